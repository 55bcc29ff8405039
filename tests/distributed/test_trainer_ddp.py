"""`enable_ddp: true` end to end: `ttcustom launch` and `ttcustom train` on 2 gloo ranks."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

from tests.distributed.launch import REPO, finish, spawn_ranks, worker_env
from ttcustom.train import checkpoint as ckpt
from ttcustom.train.config import load_config
from ttcustom.train.recipe import train_from_config

pytestmark = pytest.mark.slow


def _config(tmp_path: Path, name: str, ddp: bool, batch_size: int, **training) -> Path:
    corpus = tmp_path / "corpus.txt"
    if not corpus.exists():
        corpus.write_text("\n".join(f"line {i}: the quick brown fox jumps over the lazy dog "
                                    f"{i * 7 % 13}" for i in range(120)))
    config = {
        "model": {"architecture": "llama"},
        "model_config": {"vocab_size": 272, "hidden_dim": 32, "num_layers": 1, "num_heads": 2,
                         "mlp_dim": 64, "max_seq_len": 32, "dropout": 0.0},
        "training_config": {"seed": 0, "batch_size": batch_size, "max_steps": 4,
                            "learning_rate": 1e-2, "warmup_steps": 0, "scheduler": "constant",
                            "validation_frequency": 1000, "checkpoint_frequency": 2,
                            "max_sequence_length": 32, **training},
        "device_config": {"backend": "cpu", "enable_ddp": ddp, "dtype": "float32"},
        "logging_config": {"output_dir": str(tmp_path / name), "progress_bar": False},
        "data": {"corpus": str(corpus), "val_split": 0.1, "tokenizer": {"kind": "byte"}},
    }
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _single_process(config: Path, *overrides: str) -> Path:
    trainer = train_from_config(load_config(config, list(overrides)))
    return trainer.output_dir


def _launch(config: Path, *train_args: str) -> None:
    command = [sys.executable, "-m", "ttcustom", "launch", "--nproc", "2", "--timeout", "60",
               str(config), *train_args]
    done = subprocess.run(command, cwd=REPO, env=worker_env(), capture_output=True, text=True,
                          timeout=180)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("finished at step") == 1, "only rank 0 reports"


def _assert_same_weights(run: Path, reference: Path) -> None:
    got = load_file(run / "final_model" / "model.safetensors")
    expected = load_file(reference / "final_model" / "model.safetensors")
    assert got.keys() == expected.keys()
    for name, value in expected.items():
        torch.testing.assert_close(got[name], value, rtol=0, atol=1e-5, msg=name)


@pytest.mark.parametrize("accum", [1, 2])
def test_launch_on_two_ranks_trains_like_one_process_with_double_batch(tmp_path, accum):
    _launch(_config(tmp_path, "ddp", True, 2, gradient_accumulation_steps=accum))
    single = _single_process(_config(tmp_path, "single", False, 4,
                                     gradient_accumulation_steps=accum))
    _assert_same_weights(tmp_path / "ddp", single)
    logged = (tmp_path / "ddp" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in logged if "loss" in json.loads(line)] == \
        [1, 2, 3, 4], "only rank 0 logs, once per step"


def test_killing_a_rank_fails_the_other_and_the_run_resumes_from_its_checkpoint(tmp_path):
    config = _config(tmp_path, "ddp", True, 2, max_steps=100000)
    checkpoints = tmp_path / "ddp"
    procs = spawn_ranks(2, "ttcustom", ["train", str(config)],
                        extra_env={"TTCUSTOM_DIST_TIMEOUT": "30"})
    deadline = time.monotonic() + 120
    while ckpt.latest_checkpoint(checkpoints) is None or \
            ckpt.latest_checkpoint(checkpoints).name == "checkpoint_step_2":
        assert time.monotonic() < deadline and procs[0].poll() is None, "no checkpoint written"
        time.sleep(0.2)
    procs[1].send_signal(signal.SIGKILL)
    killed_at = time.monotonic()
    (code, err), _ = finish(procs, timeout=60)
    assert code != 0 and time.monotonic() - killed_at < 60
    assert "DistributedError: rank 0 of 2" in err, err

    last = ckpt.latest_checkpoint(checkpoints)
    step = int(last.name.rsplit("_", 1)[1])
    _launch(config, "--resume", "--set", f"training_config.max_steps={step + 2}")
    single = _single_process(_config(tmp_path, "single", False, 4),
                             f"training_config.max_steps={step + 2}")
    _assert_same_weights(checkpoints, single)
