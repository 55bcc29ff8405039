"""`ttcustom launch` builds torchrun's command line (the runs are in test_trainer_ddp)."""

from __future__ import annotations

import pytest

from ttcustom.cli import build_parser
from ttcustom.distributed.cli import torchrun_args


def _args(*argv: str):
    return torchrun_args(build_parser().parse_args(["launch", *argv]))


def test_one_host_is_a_standalone_torchrun_of_ttcustom_train_with_the_train_options():
    assert _args("--nproc", "2", "run.yaml", "--set", "training_config.max_steps=5",
                 "--resume") == [
        "--standalone", "--nproc-per-node", "2", "-m", "ttcustom", "train", "run.yaml",
        "--set", "training_config.max_steps=5", "--resume"]


def test_several_hosts_meet_at_a_c10d_rendezvous():
    args = _args("--nproc", "4", "--nnodes", "2", "--rdzv-endpoint", "host0:29400", "run.yaml")
    assert args[:8] == ["--nnodes", "2", "--rdzv-backend", "c10d", "--rdzv-endpoint",
                        "host0:29400", "--rdzv-id", "ttcustom"]


def test_several_hosts_without_a_rendezvous_endpoint_are_refused():
    with pytest.raises(ValueError, match="--rdzv-endpoint HOST:PORT"):
        _args("--nproc", "1", "--nnodes", "2", "run.yaml")
