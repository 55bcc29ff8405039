"""A rank that dies or stalls makes the others fail with a clear error, never hang."""

from __future__ import annotations

import signal
import time

import torch

from tests.distributed.ddp_worker import build_model, make_optimizer, params_of, train_steps
from tests.distributed.launch import finish, spawn_ranks

WORKER = "tests.distributed.ddp_worker"
BATCH = 4


def _train_forever(tmp_path, timeout_s: float):
    args = [str(tmp_path), "--steps", "100000", "--batch", str(BATCH),
            "--checkpoint-every-step", "--step-delay", "0.05"]
    return spawn_ranks(2, WORKER, args, extra_env={"TTCUSTOM_DIST_TIMEOUT": str(timeout_s)})


def _wait_for_checkpoint(path, procs, min_step: int, deadline_s: float = 60.0) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if path.exists() and torch.load(path)["step"] >= min_step:
            return
        if any(p.poll() is not None for p in procs):
            break
        time.sleep(0.2)
    for proc in procs:
        proc.kill()
    errors = [proc.communicate()[1] for proc in procs]
    raise AssertionError(f"no checkpoint of step {min_step} appeared:\n" + "\n".join(errors))


def test_killing_one_rank_fails_the_other_quickly_and_keeps_the_checkpoint(tmp_path):
    procs = _train_forever(tmp_path, timeout_s=60)
    checkpoint = tmp_path / "checkpoint.pt"
    _wait_for_checkpoint(checkpoint, procs, min_step=2)
    procs[1].send_signal(signal.SIGKILL)
    start = time.monotonic()
    (code, err), (killed_code, _) = finish(procs, timeout=30)
    assert killed_code == -signal.SIGKILL
    assert code != 0, "rank 0 kept running after its peer died"
    assert time.monotonic() - start < 30
    assert "DistributedError: rank 0 of 2" in err, err

    saved = torch.load(checkpoint)
    model = build_model(seed=0)
    optimizer = make_optimizer("sgd", model)
    train_steps(model, optimizer, range(saved["step"]), slice(0, 2 * BATCH), 2 * BATCH, accum=1)
    for name, value in params_of(model).items():
        torch.testing.assert_close(saved["params"][name], value, rtol=0, atol=1e-5)


def test_a_stalled_rank_fails_the_other_after_the_collective_timeout(tmp_path):
    procs = _train_forever(tmp_path, timeout_s=3)
    _wait_for_checkpoint(tmp_path / "checkpoint.pt", procs, min_step=1)
    procs[1].send_signal(signal.SIGSTOP)
    start = time.monotonic()
    try:
        code, err = finish(procs[:1], timeout=30)[0]
    finally:
        procs[1].kill()
        procs[1].communicate()
    elapsed = time.monotonic() - start
    assert code != 0
    assert 2 < elapsed < 30, f"rank 0 failed after {elapsed:.1f} s; the timeout was 3 s"
    assert "DistributedError: rank 0 of 2" in err, err
