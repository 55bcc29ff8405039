"""A run directory is one run's: a lock, nothing written by a refused run, a clean --overwrite."""

import os
import subprocess
import sys

import pytest

import ttcustom as tc
from ttcustom.train import Trainer
from ttcustom.train.config import ConfigError, load_config
from ttcustom.train.recipe import build_trainer, resolve_tokenizer
from ttcustom.train.runlock import LOCK_NAME, RunLock

from .test_recipe import scratch_config
from .tiny import TinyLM, counting_examples, tiny_config


def scratch_run(tmp_path, kind="char"):
    config = scratch_config(tmp_path, tokenizer={"kind": kind})
    config.training_config.checkpoint_frequency = 1
    config.logging_config.progress_bar = False
    return config


def make(output_dir, **training):
    model = TinyLM()
    return Trainer(model, tc.optim.AdamW(model.parameters(), lr=0.05), counting_examples(24),
                   counting_examples(8, seed=1), tiny_config(output_dir, **training))


def test_a_second_run_in_a_locked_directory_is_refused_with_the_holders_pid(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / LOCK_NAME).write_text(f"{holder.pid}\n")
        with pytest.raises(FileExistsError, match=f"in use by another run \\(pid {holder.pid}"):
            make(tmp_path).train()
        assert sorted(p.name for p in tmp_path.iterdir()) == [LOCK_NAME]
    finally:
        holder.kill()
        holder.wait()


def test_a_stale_lock_of_a_dead_process_is_taken_over(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    (tmp_path / LOCK_NAME).write_text(dead.stdout)
    make(tmp_path, max_steps=2).train()
    assert not (tmp_path / LOCK_NAME).exists()  # released at the end


def test_the_lock_is_released_when_the_run_fails(tmp_path):
    trainer = make(tmp_path, max_steps=4)
    trainer.model.poison_after = 1
    with pytest.raises(FloatingPointError):
        trainer.train()
    lock = RunLock(tmp_path)
    lock.acquire()
    lock.release()


def test_a_refused_run_writes_nothing(tmp_path):
    """Refused because of an earlier run's checkpoints: its tokenizer and config stay."""
    config = scratch_run(tmp_path)
    build_trainer(config).train()
    run = tmp_path / "run"
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    config.data.tokenizer.kind = "byte"  # a different tokenizer: must not replace the run's
    with pytest.raises(FileExistsError, match="holds checkpoints of an earlier run"):
        build_trainer(config).train()
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before


def test_a_refused_run_does_not_leave_a_new_directory_behind(tmp_path):
    with pytest.raises(FileNotFoundError, match="no complete checkpoint"):
        make(tmp_path / "new").train(resume_from="latest")
    assert not (tmp_path / "new").exists()


def test_overwrite_builds_a_new_tokenizer(tmp_path):
    """A char tokenizer of the old corpus would encode the new one as <unk>."""
    config = scratch_run(tmp_path)
    build_trainer(config).train()
    (tmp_path / "corpus.txt").write_text("xyz qvw " * 200)
    config.logging_config.overwrite_output_dir = True
    trainer = build_trainer(config)
    assert set("xyzqvw") <= set(trainer.tokenizer.get_vocab())
    trainer.train()
    assert set("xyzqvw") <= set(resolve_tokenizer(config, resume=True).get_vocab())


def test_resume_reuses_the_runs_tokenizer(tmp_path):
    config = scratch_run(tmp_path)
    build_trainer(config).train()
    (tmp_path / "corpus.txt").write_text("xyz qvw " * 200)
    assert "x" not in resolve_tokenizer(config, resume=True).get_vocab()


@pytest.mark.parametrize("value", ["../elsewhere", "/tmp/elsewhere", "a/../../b", " "])
def test_checkpoint_dir_must_stay_inside_the_run(value):
    with pytest.raises(ConfigError, match="checkpoint_dir .* must be a relative path inside"):
        load_config(data={"training_config": {"max_steps": 1, "checkpoint_dir": value}})


def test_an_empty_output_dir_is_refused():
    with pytest.raises(ConfigError, match="output_dir is empty"):
        load_config(data={"training_config": {"max_steps": 1},
                          "logging_config": {"output_dir": ""}})


def test_a_lock_with_this_process_pid_is_held(tmp_path):
    (tmp_path / LOCK_NAME).write_text(f"{os.getpid()}\n")
    with pytest.raises(FileExistsError, match="in use"):
        RunLock(tmp_path).acquire()


def test_export_refuses_a_damaged_checkpoint(tmp_path):
    from ttcustom.train.export_run import export_checkpoint

    build_trainer(scratch_run(tmp_path, kind="byte")).train()
    model_file = tmp_path / "run" / "checkpoint_step_1" / "model.safetensors"
    data = bytearray(model_file.read_bytes())
    data[-3] ^= 0x10
    model_file.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="checkpoint is damaged: model.safetensors does not match"):
        export_checkpoint(tmp_path / "run", "hf", tmp_path / "hf")
    assert not (tmp_path / "hf").exists()


def test_overwrite_deletes_the_earlier_runs_outputs(tmp_path):
    make(tmp_path, max_steps=2).train()
    (tmp_path / "final_adapter").mkdir()
    (tmp_path / "final_adapter" / "adapter_model.safetensors").write_bytes(b"old")
    (tmp_path / "validation.txt").write_text("old samples\n")
    with (tmp_path / "training.log").open("a") as handle:
        handle.write("OLD RUN\n")
    trainer = make(tmp_path, max_steps=2)
    trainer.config.logging_config.overwrite_output_dir = True
    trainer.train()
    assert not (tmp_path / "final_adapter").exists()
    assert not (tmp_path / "validation.txt").exists()
    assert "OLD RUN" not in (tmp_path / "training.log").read_text()
    assert [p.name for p in sorted(tmp_path.glob("checkpoint_step_*"))] == ["checkpoint_step_2"]
