"""`training_config.compile`: the Trainer's captured step gives eager's numbers, and a
resumed captured run matches an uninterrupted one bit for bit."""

from __future__ import annotations

import json

import pytest
import torch

import ttcustom as tc
from ttcustom.train import Callback, Trainer
from ttcustom.train.compiled import AUTO_MIN_STEPS, resolve

from ..capture.test_capture import VOCAB, tiny_llama
from .tiny import TinyLM, counting_examples, tiny_config


class StopAt(Callback):
    def __init__(self, step):
        self.step = step

    def on_checkpoint(self, trainer, path):  # after the checkpoint: not saved in it
        if trainer.state.step == self.step:
            trainer.state.stop_reason = "stopped by the test"


def train(output_dir, compile, resume=False, stop_at=None, **training):
    model = tiny_llama()
    optimizer = tc.optim.AdamW(model.parameters(), lr=0.01)
    config = tiny_config(output_dir, compile=compile, log_every=1, **training)
    config["logging_config"]["log_every"] = config["training_config"].pop("log_every")
    callbacks = [StopAt(stop_at)] if stop_at else []
    examples = counting_examples(24)
    for example in examples:  # the tiny vocabulary of the counting task fits the model's
        assert max(example.input_ids) < VOCAB
    trainer = Trainer(model, optimizer, examples, counting_examples(8, seed=1), config,
                      callbacks)
    trainer.train(resume_from="latest" if resume else None)
    rows = [json.loads(line) for line in (output_dir / "metrics.jsonl").read_text().splitlines()]
    losses = {row["step"]: row["loss"] for row in rows if "loss" in row}
    weights = {k: v.to_torch() for k, v in model.state_dict().items()}
    return trainer, losses, weights


def test_capture_replays_the_trainer_step_with_eager_numbers_bit_for_bit(tmp_path):
    _, eager_losses, eager_weights = train(tmp_path / "eager", "off")
    trainer, losses, weights = train(tmp_path / "captured", "capture")
    stats = trainer.programs.describe()
    assert stats["forward_backward"]["replays"] == 8 and stats["update"]["replays"] == 7
    assert losses == eager_losses
    assert all(torch.equal(weights[k], eager_weights[k]) for k in weights)


def test_gradient_accumulation_replays_each_micro_batch(tmp_path):
    _, eager_losses, _ = train(tmp_path / "eager", "off", gradient_accumulation_steps=2)
    trainer, losses, _ = train(tmp_path / "captured", "capture", gradient_accumulation_steps=2)
    assert trainer.programs.describe()["forward_backward"]["captures"] == 2  # no grads / grads
    assert losses == eager_losses


def test_a_model_that_needs_host_tensors_runs_eagerly_with_its_numbers(tmp_path):
    def run(output_dir, compile):
        tc.manual_seed(0)
        model = TinyLM()  # uploads inside its forward and shifts labels on the host
        optimizer = tc.optim.AdamW(model.parameters(), lr=0.05)
        trainer = Trainer(model, optimizer, counting_examples(24), None,
                          tiny_config(output_dir, compile=compile))
        trainer.train()
        return trainer, trainer.state.history["train"]

    _, eager = run(tmp_path / "eager", "off")
    trainer, history = run(tmp_path / "captured", "capture")
    stats = trainer.programs.describe()["forward_backward"]
    assert stats["replays"] == 0 and stats["reasons"]
    assert history == eager


@pytest.mark.parametrize("mode", ["capture", pytest.param("on", marks=pytest.mark.slow)])
def test_a_resumed_captured_run_matches_an_uninterrupted_one_bit_for_bit(tmp_path, mode):
    _, whole, whole_weights = train(tmp_path / "whole", mode)
    train(tmp_path / "broken", mode, stop_at=4)
    _, resumed, weights = train(tmp_path / "broken", mode, resume=True)
    assert resumed == whole
    assert all(torch.equal(weights[k], whole_weights[k]) for k in weights)


@pytest.mark.slow
def test_a_compiled_trainer_step_matches_eager_within_rounding(tmp_path):
    _, eager_losses, _ = train(tmp_path / "eager", "off")
    trainer, losses, _ = train(tmp_path / "compiled", "on")
    assert trainer.programs.describe()["forward_backward"]["replays"] == 8
    assert losses.keys() == eager_losses.keys()
    for step, loss in losses.items():
        assert loss == pytest.approx(eager_losses[step], rel=1e-4)


@pytest.mark.parametrize("setting, steps, expected", [
    ("auto", AUTO_MIN_STEPS - 1, "off"), ("auto", AUTO_MIN_STEPS, "on"),
    ("off", 10**6, "off"), ("capture", 1, "capture")])
def test_auto_compiles_only_runs_long_enough_to_repay_the_compile_time(setting, steps, expected):
    assert resolve(setting, steps) == expected
