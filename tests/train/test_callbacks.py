"""Logging integrations: metrics file after resume, wandb offline, TensorBoard, callbacks."""

import json

import pytest

import ttcustom as tc
from ttcustom.train import Callback, Trainer

from .tiny import TinyLM, counting_examples, tiny_config


def train(tmp_path, callbacks=(), **logging):
    config = tiny_config(tmp_path, max_steps=4, validation_frequency=2)
    config["logging_config"].update(logging)
    model = TinyLM()
    trainer = Trainer(model, tc.optim.AdamW(model.parameters(), lr=0.05), counting_examples(16),
                      counting_examples(4, seed=1), config, callbacks)
    trainer.train()
    return trainer


def test_user_callbacks_see_every_hook_in_order(tmp_path):
    class Recorder(Callback):
        def __init__(self):
            self.events = []

        def on_train_begin(self, trainer):
            self.events.append("begin")

        def on_log(self, trainer, metrics):
            self.events.append(f"log{metrics['step']}")

        def on_evaluate(self, trainer, metrics):
            self.events.append(f"eval{metrics['step']}")

        def on_checkpoint(self, trainer, path):
            self.events.append(path.name)

        def on_train_complete(self, trainer):
            self.events.append("complete")

        def on_train_end(self, trainer):
            self.events.append("end")

    recorder = Recorder()
    train(tmp_path, [recorder])
    assert recorder.events == ["begin", "eval0", "log1", "log2", "eval2", "checkpoint_step_2", "log3",
                               "log4", "eval4", "checkpoint_step_4", "complete", "end"]


def test_a_failed_run_ends_without_completing_or_a_final_model(tmp_path):
    class Failing(Callback):
        events = []

        def on_step_end(self, trainer):
            raise RuntimeError("stop here")

        def on_train_complete(self, trainer):
            self.events.append("complete")

        def on_train_end(self, trainer):
            self.events.append("end")

    with pytest.raises(RuntimeError, match="stop here"):
        train(tmp_path, [Failing()])
    assert Failing.events == ["end"]
    assert (tmp_path / "config.yaml").is_file() and not (tmp_path / "final_model").exists()


def test_log_every_averages_the_steps_in_between(tmp_path):
    train(tmp_path, log_every=2)
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [row["step"] for row in rows if "loss" in row] == [2, 4]


def test_callbacks_run_on_the_main_process_only(tmp_path):
    config = tiny_config(tmp_path, max_steps=2)
    model = TinyLM()
    Trainer(model, tc.optim.SGD(model.parameters(), lr=0.1), counting_examples(8), None, config,
            is_main_process=False).train()
    assert not (tmp_path / "metrics.jsonl").exists()
    assert not list(tmp_path.glob("checkpoint_step_*"))


def test_wandb_offline_needs_no_network(tmp_path, monkeypatch):
    pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_DISABLE_GIT", "true")
    train(tmp_path, use_wandb=True, wandb_mode="offline", wandb_project="unit")
    runs = list((tmp_path / "wandb").glob("offline-run-*"))
    assert len(runs) == 1 and list(runs[0].glob("*.wandb"))


def test_tensorboard_writes_train_and_eval_scalars(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    train(tmp_path, tensorboard=True)
    events = EventAccumulator(str(tmp_path / "tensorboard"))
    events.Reload()
    tags = events.Tags()["scalars"]
    assert {"train/loss", "train/lr", "eval/val_loss"} <= set(tags)
    assert [e.step for e in events.Scalars("train/loss")] == [1, 2, 3, 4]
