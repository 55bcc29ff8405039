"""Exact resume after SIGKILL, and checkpoints that survive an interrupted write."""

import json
import signal
import subprocess
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file

from ttcustom.train import checkpoint as ckpt

REPO = Path(__file__).resolve().parents[2]


def run(output_dir, *flags):
    return subprocess.run([sys.executable, "-m", "tests.train.run_tiny", str(output_dir), *flags],
                          cwd=REPO, capture_output=True, text=True, timeout=120)


def losses(output_dir):
    rows = [json.loads(line) for line in (output_dir / "metrics.jsonl").read_text().splitlines()]
    return {(row["step"], key): row[key] for row in rows for key in ("loss", "val_loss") if key in row}


def test_killed_and_resumed_run_matches_an_uninterrupted_one_bit_for_bit(tmp_path):
    whole, broken = tmp_path / "whole", tmp_path / "broken"
    assert run(whole).returncode == 0
    killed = run(broken, "--kill-at", "5")
    assert killed.returncode == -signal.SIGKILL
    assert ckpt.latest_checkpoint(broken).name == "checkpoint_step_4"
    resumed = run(broken, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert losses(broken) == losses(whole)
    for name in ("model.safetensors", "optimizer.safetensors"):
        a = load_file(whole / "final_state" / name)
        b = load_file(broken / "final_state" / name)
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), name


def test_a_checkpoint_write_killed_midway_leaves_the_previous_one_intact(tmp_path):
    killed = run(tmp_path, "--kill-in-save", "2")
    assert killed.returncode == -signal.SIGKILL
    good = tmp_path / "checkpoint_step_2"
    assert [p.name for p in ckpt.list_checkpoints(tmp_path)] == ["checkpoint_step_2"]
    assert not (tmp_path / "checkpoint_step_4").exists()
    assert len(list(tmp_path.glob(".checkpoint_step_4.tmp-*"))) == 1  # the torn write, ignored
    assert set(load_file(good / "model.safetensors")) == {"embed.weight", "head.weight",
                                                          "head.bias"}
    resumed = run(tmp_path, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert not list(tmp_path.glob(".checkpoint_step_*.tmp-*"))
    assert (tmp_path / "checkpoint_step_4" / ckpt.STATE_FILE).is_file()
