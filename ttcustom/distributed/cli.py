"""`ttcustom launch`: run `ttcustom train CONFIG` on N processes through torchrun.

`ttcustom launch --nproc N CONFIG.yaml [train options]` is
`torchrun --standalone --nproc-per-node N -m ttcustom train CONFIG.yaml [train options]`;
with `--nnodes M --rdzv-endpoint HOST:PORT` the same command, run on each host, meets
the others through torchrun's c10d rendezvous. The config needs
`device_config.enable_ddp: true`. A tt card needs no launcher: one process drives the
whole mesh (`ttcustom train` with `mesh_shape`).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from ttcustom.distributed.process_group import TIMEOUT_ENV


def register(sub: Any) -> None:
    p = sub.add_parser(
        "launch", help="train on several processes (torchrun)",
        description="Start `ttcustom train CONFIG` on --nproc processes of this host (and "
        "--nnodes hosts); options after CONFIG go to `ttcustom train`.")
    p.add_argument("--nproc", type=int, required=True, metavar="N", help="processes on this host")
    p.add_argument("--nnodes", type=int, default=1, metavar="M", help="hosts (default 1)")
    p.add_argument("--rdzv-endpoint", metavar="HOST:PORT",
                   help="rendezvous of a multi-host run (the same on every host)")
    p.add_argument("--rdzv-id", default="ttcustom", help="run id shared by the hosts")
    p.add_argument("--timeout", type=float, metavar="SECONDS",
                   help=f"collective timeout (sets {TIMEOUT_ENV}; default 1800)")
    p.add_argument("config", help="YAML run config with device_config.enable_ddp: true")
    p.add_argument("train_args", nargs=argparse.REMAINDER,
                   help="passed to `ttcustom train` (--set KEY=VALUE, --resume, ...)")
    p.set_defaults(func=launch)


def torchrun_args(args: argparse.Namespace) -> list[str]:
    """torchrun's command line for the parsed `ttcustom launch` arguments."""
    if args.nproc < 1 or args.nnodes < 1:
        raise ValueError(f"--nproc ({args.nproc}) and --nnodes ({args.nnodes}) must be >= 1")
    if args.nnodes > 1 and not args.rdzv_endpoint:
        raise ValueError("--nnodes > 1 needs --rdzv-endpoint HOST:PORT, the same on every host")
    if args.rdzv_endpoint:
        where = ["--nnodes", str(args.nnodes), "--rdzv-backend", "c10d",
                 "--rdzv-endpoint", args.rdzv_endpoint, "--rdzv-id", args.rdzv_id]
    else:
        where = ["--standalone"]
    return [*where, "--nproc-per-node", str(args.nproc),
            "-m", "ttcustom", "train", args.config, *args.train_args]


def launch(args: argparse.Namespace) -> int:
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import main as torchrun

    command = torchrun_args(args)
    if args.timeout is not None:
        os.environ[TIMEOUT_ENV] = str(args.timeout)
    try:
        torchrun(command)
    except ChildFailedError as failure:
        print(f"error: {failure.format_msg()}", file=sys.stderr)
        return 1
    return 0
