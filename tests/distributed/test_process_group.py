"""Process-group helpers: torchrun's variables, timeouts, single-process answers."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta

import pytest
import torch

import ttcustom.distributed as ttdist
from tests.distributed.ddp_worker import build_model, micro_batch
from tests.distributed.launch import free_port
from ttcustom.distributed.process_group import collective_timeout, launch_env

TORCHRUN_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


@pytest.fixture
def no_torchrun(monkeypatch):
    for name in TORCHRUN_VARS:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_launch_env_reads_torchrun_variables(no_torchrun):
    assert launch_env() is None
    no_torchrun.setenv("RANK", "3")
    no_torchrun.setenv("WORLD_SIZE", "4")
    no_torchrun.setenv("LOCAL_RANK", "1")
    assert launch_env() == ttdist.process_group.LaunchEnv(rank=3, world_size=4, local_rank=1)


@pytest.mark.parametrize("rank, world, message", [
    ("4", "4", "RANK must be in"),
    ("one", "4", r"RANK='one' is not an integer"),
    ("0", None, "WORLD_SIZE is not set"),
])
def test_launch_env_names_the_bad_variable(no_torchrun, rank, world, message):
    no_torchrun.setenv("RANK", rank)
    if world is not None:
        no_torchrun.setenv("WORLD_SIZE", world)
    with pytest.raises(ValueError, match=message):
        launch_env()


def test_init_without_torchrun_says_how_to_launch(no_torchrun):
    with pytest.raises(RuntimeError, match="torchrun --nproc-per-node N"):
        ttdist.init_process_group()


def test_collective_timeout_argument_beats_environment(monkeypatch):
    monkeypatch.setenv(ttdist.process_group.TIMEOUT_ENV, "12")
    assert collective_timeout() == timedelta(seconds=12)
    assert collective_timeout(5) == timedelta(seconds=5)
    monkeypatch.setenv(ttdist.process_group.TIMEOUT_ENV, "soon")
    with pytest.raises(ValueError, match="TTCUSTOM_DIST_TIMEOUT='soon'"):
        collective_timeout()


def test_single_process_is_rank_zero_of_one():
    assert (ttdist.get_rank(), ttdist.get_world_size(), ttdist.is_main_process()) == (0, 1, True)
    ttdist.barrier()


def test_ddp_without_a_process_group_says_how_to_start_one():
    with pytest.raises(RuntimeError, match="init_process_group"):
        ttdist.DistributedDataParallel(build_model(seed=0))


def test_a_one_rank_gloo_group_leaves_gradients_unchanged(no_torchrun):
    no_torchrun.setenv("MASTER_ADDR", "127.0.0.1")
    no_torchrun.setenv("MASTER_PORT", str(free_port()))
    ttdist.init_process_group("gloo", rank=0, world_size=1, timeout=30)
    try:
        assert ttdist.is_initialized() and ttdist.get_world_size() == 1
        ddp = ttdist.DistributedDataParallel(build_model(seed=0))
        plain = build_model(seed=0)
        x, y = micro_batch(0, 0, slice(0, 4), 4)
        for model in (ddp, plain):
            ((model(x) - y) ** 2).mean().backward()
        ttdist.barrier()
        for (name, p), q in zip(ddp.module.named_parameters(), plain.parameters()):
            torch.testing.assert_close(p.grad.to_torch(), q.grad.to_torch(), rtol=0, atol=0,
                                       msg=name)
    finally:
        ttdist.destroy_process_group()


def test_a_group_left_open_by_the_script_is_left_at_exit(tmp_path):
    """Exiting with a live gloo group can abort the process after its work is done."""
    script = tmp_path / "leave_it_open.py"
    script.write_text(
        "import atexit, torch.distributed as dist, ttcustom.distributed as ttdist\n"
        "atexit.register(lambda: print('joined at exit:', dist.is_initialized()))\n"
        "ttdist.init_process_group('gloo', rank=0, world_size=1, timeout=30)\n"
        "print('joined:', dist.is_initialized())\n")
    env = {**os.environ, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(free_port())}
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        env.pop(name, None)
    proc = subprocess.run([sys.executable, str(script)], env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\n")[:2] == ["joined: True", "joined at exit: False"]
