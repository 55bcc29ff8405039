"""Two gloo ranks with batch B each train exactly like one process with batch 2B."""

from __future__ import annotations

import pytest
import torch

from tests.distributed.ddp_worker import build_model, make_optimizer, params_of, train_steps
from tests.distributed.launch import finish, run_ranks, spawn_ranks, torchrun_hosts

WORKER = "tests.distributed.ddp_worker"
WORLD, BATCH, STEPS = 2, 4, 3

SCENARIOS = {
    "sgd-momentum": dict(optimizer="sgd", accum=1, bucket_cap_mb=25.0),
    "sgd-accumulate-3-under-no_sync": dict(optimizer="sgd", accum=3, bucket_cap_mb=25.0),
    "adamw-one-bucket-per-param": dict(optimizer="adamw", accum=1, bucket_cap_mb=1e-6),
}


def single_process_params(optimizer: str, accum: int) -> dict[str, torch.Tensor]:
    model = build_model(seed=0)
    opt = make_optimizer(optimizer, model)
    train_steps(model, opt, range(STEPS), slice(0, WORLD * BATCH), WORLD * BATCH, accum)
    return params_of(model)


def _assert_ranks_match_single_process(out_dir, optimizer: str, accum: int) -> None:
    expected = single_process_params(optimizer, accum)
    initial = params_of(build_model(seed=0))
    for rank in range(WORLD):
        got = torch.load(out_dir / f"rank{rank}.pt")
        for name, value in expected.items():
            assert not torch.equal(value, initial[name]), f"{name} did not train"
            torch.testing.assert_close(got[name], value, rtol=0, atol=1e-5,
                                       msg=lambda m, n=name, r=rank: f"rank {r}, {n}: {m}")


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_two_ranks_match_one_process_with_double_batch(scenario, tmp_path):
    cfg = SCENARIOS[scenario]
    run_ranks(WORLD, WORKER, [str(tmp_path), "--steps", str(STEPS), "--batch", str(BATCH),
                              "--optimizer", cfg["optimizer"], "--accum", str(cfg["accum"]),
                              "--bucket-cap-mb", str(cfg["bucket_cap_mb"])])
    _assert_ranks_match_single_process(tmp_path, cfg["optimizer"], cfg["accum"])


def test_two_torchrun_hosts_meeting_by_rendezvous_train_like_one_process(tmp_path):
    agents = torchrun_hosts(WORLD, WORKER, [str(tmp_path), "--steps", str(STEPS),
                                            "--batch", str(BATCH)])
    for host, (code, err) in enumerate(finish(agents, timeout=90)):
        assert code == 0, f"torchrun agent {host} exited {code}:\n{err}"
    _assert_ranks_match_single_process(tmp_path, "sgd", accum=1)


def test_ranks_that_build_different_models_fail_at_wrap_time(tmp_path):
    procs = spawn_ranks(WORLD, WORKER, [str(tmp_path), "--rank1-hidden", "32"])
    results = finish(procs, timeout=60)
    for rank, (code, err) in enumerate(results):
        assert code != 0, f"rank {rank} should have failed"
        assert "DistributedError" in err and "disagrees with rank 0 on parameters" in err, err
        assert "(16, 8)" in err and "(32, 8)" in err, err
