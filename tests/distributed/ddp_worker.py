"""One rank of a small DDP training run, started by the tests as a torchrun-style process.

`python -m tests.distributed.ddp_worker OUT_DIR --steps N ...` reads RANK/WORLD_SIZE/
MASTER_ADDR/MASTER_PORT, trains a tiny MLP on its share of a fixed global batch, and
writes `OUT_DIR/rank{R}.pt` (final parameters). The same functions run the
single-process reference in the test process, so both sides share data and model.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import time
from pathlib import Path

import torch

import ttcustom as tc
import ttcustom.distributed as ttdist
from ttcustom import nn

IN, HIDDEN, OUT = 8, 16, 4


class TinyMLP(nn.Module):
    def __init__(self, hidden: int = HIDDEN) -> None:
        super().__init__()
        self.up = nn.Linear(IN, hidden)
        self.norm = nn.LayerNorm(hidden)
        self.down = nn.Linear(hidden, OUT)

    def forward(self, x: tc.Tensor) -> tc.Tensor:
        return self.down(tc.functional.silu(self.norm(self.up(x))))


def build_model(seed: int, hidden: int = HIDDEN) -> TinyMLP:
    tc.manual_seed(seed)
    return TinyMLP(hidden)


def make_optimizer(name: str, model: nn.Module) -> tc.optim.Optimizer:
    if name == "sgd":
        return tc.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    return tc.optim.AdamW(model.parameters(), lr=1e-2)


def micro_batch(step: int, micro: int, rows: slice, global_batch: int) -> tuple[tc.Tensor, tc.Tensor]:
    """Rows `rows` of micro-batch `micro` of `step` (global_batch rows), fixed by seed."""
    gen = torch.Generator().manual_seed(1000 * step + micro)
    x = torch.randn(global_batch, IN, generator=gen)
    y = torch.randn(global_batch, OUT, generator=gen)
    return tc.tensor(x[rows]), tc.tensor(y[rows])


def train_steps(model: nn.Module, optimizer: tc.optim.Optimizer, steps: range, rows: slice,
                global_batch: int, accum: int, no_sync=None, after_step=None) -> None:
    """Each step: `accum` micro-batches (all but the last under `no_sync`), then step."""
    for step in steps:
        for micro in range(accum):
            last = micro == accum - 1
            sync = contextlib.nullcontext() if last or no_sync is None else no_sync()
            with sync:
                x, y = micro_batch(step, micro, rows, global_batch)
                loss = ((model(x) - y) ** 2).mean() / accum
                loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        if after_step is not None:
            after_step(step)


def params_of(model: nn.Module) -> dict[str, torch.Tensor]:
    return {name: p.to_torch() for name, p in model.named_parameters()}


def save_atomic(obj: object, path: Path) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--batch", type=int, default=4, help="rows per rank per micro-batch")
    parser.add_argument("--accum", type=int, default=1)
    parser.add_argument("--optimizer", default="sgd")
    parser.add_argument("--bucket-cap-mb", type=float, default=25.0)
    parser.add_argument("--checkpoint-every-step", action="store_true")
    parser.add_argument("--step-delay", type=float, default=0.0)
    parser.add_argument("--rank1-hidden", type=int, default=HIDDEN)
    args = parser.parse_args()

    torch.set_num_threads(1)
    ttdist.init_process_group()
    rank, world = ttdist.get_rank(), ttdist.get_world_size()
    # Each rank initialises differently: wrapping must broadcast rank 0's weights.
    model = build_model(seed=rank, hidden=args.rank1_hidden if rank == 1 else HIDDEN)
    ddp = ttdist.DistributedDataParallel(model, bucket_cap_mb=args.bucket_cap_mb)
    optimizer = make_optimizer(args.optimizer, model)

    def after_step(step: int) -> None:
        if args.checkpoint_every_step and ttdist.is_main_process():
            save_atomic({"step": step + 1, "params": params_of(model)},
                        args.out / "checkpoint.pt")
        time.sleep(args.step_delay)

    rows = slice(rank * args.batch, (rank + 1) * args.batch)
    train_steps(ddp, optimizer, range(args.steps), rows, args.batch * world, args.accum,
                no_sync=ddp.no_sync, after_step=after_step)
    torch.save(params_of(model), args.out / f"rank{rank}.pt")
    ttdist.destroy_process_group()


if __name__ == "__main__":
    main()
