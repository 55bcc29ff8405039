"""CT-5: data parallel training on two devices or processes, replicas kept identical.

    python examples/ct5_ddp.py                       # CPU: starts 2 processes with torchrun
    torchrun --standalone --nproc-per-node 2 examples/ct5_ddp.py   # the same, explicitly
    TTCUSTOM_BACKEND=tt python examples/ct5_ddp.py   # N300: one process, both chips (mesh 1x2)

Each replica trains on its own share of every batch; after each backward the gradients
are averaged over the replicas, so one optimizer step keeps them identical. The script
checks that at the end by comparing a fingerprint of every replica's weights.
Set TTCUSTOM_EXAMPLE_FAST=1 for a shorter run (the test suite does).
Lesson: docs/lessons/ct5-multi-device.md
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import torch
import torch.distributed

import ttcustom as tc
from ttcustom.backends import resolve_name
from ttcustom.data import DataLoader, byte_tokenizer, load_jsonl_dataset
from ttcustom.distributed import get_rank, get_world_size, is_main_process
from ttcustom.distributed.process_group import launch_env
from ttcustom.distributed.training import data_parallel_backend, wrap_for_training
from ttcustom.models import ModelConfig, build_model
from ttcustom.train.config import DeviceSection

FAST = os.environ.get("TTCUSTOM_EXAMPLE_FAST") == "1"
TRICKSTER = Path(__file__).resolve().parent / "data" / "trickster_train.jsonl"
REPLICAS = 2
BATCH_PER_REPLICA = 4


def relaunch_under_torchrun(args: list[str]) -> int:
    """cpu/cuda replicas are processes: start this script again as REPLICAS of them."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               f"--nproc-per-node={REPLICAS}", __file__, *args]
    print("starting", " ".join(command[2:]), flush=True)
    return subprocess.call(command)


def fingerprints(model) -> list[float]:
    """One number per replica summarising its weights: equal iff the replicas agree."""
    with tc.no_grad():
        mine = sum(float(p.to_torch().double().sum()) for p in model.parameters())
    if not torch.distributed.is_initialized():
        return [mine] * REPLICAS  # a mesh: one process holds every replica
    gathered = [0.0] * get_world_size()
    torch.distributed.all_gather_object(gathered, mine)
    return gathered


def _listing(values: list[float]) -> str:
    return ", ".join(f"{v:.6f}" for v in values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=12 if FAST else 200)
    args = parser.parse_args()
    on_tt = resolve_name() == "tt"
    if not on_tt and launch_env() is None:
        sys.exit(relaunch_under_torchrun(sys.argv[1:]))

    # tt: open a 1x2 mesh in this process; cpu/cuda: join torchrun's process group.
    backend = data_parallel_backend(DeviceSection(enable_ddp=True, mesh_shape=[1, REPLICAS]))
    tc.manual_seed(get_rank())  # different on purpose: wrapping copies rank 0's weights
    model = build_model(ModelConfig(model_type="llama", vocab_size=256, hidden_size=128,
                                    intermediate_size=384, num_hidden_layers=2,
                                    num_attention_heads=4, max_position_embeddings=256),
                        backend=backend)
    data = load_jsonl_dataset(TRICKSTER, tokenizer=byte_tokenizer(), max_length=128,
                              truncate=True).examples
    before = fingerprints(model)
    ddp, sampler = wrap_for_training(model, data, seed=0)  # copies rank 0's weights to all
    after = fingerprints(model)
    # A mesh splits each batch over its chips; processes each load their own share.
    batch_size = BATCH_PER_REPLICA * (REPLICAS if on_tt else 1)
    loader = DataLoader(data, batch_size, sampler=sampler)
    optimizer = tc.optim.AdamW(model.parameters(), lr=3e-3)
    if is_main_process():
        print(f"{REPLICAS} replicas on {backend.name}, {BATCH_PER_REPLICA} examples each per "
              f"step: effective batch {BATCH_PER_REPLICA * REPLICAS}")
        print(f"weights before wrapping: {_listing(before)}; after: {_listing(after)}",
              flush=True)
    if sampler is not None:
        print(f"rank {get_rank()} of {get_world_size()}: its examples start with indices "
              f"{list(sampler)[:4]}", flush=True)

    batches, first = iter(loader), None
    for step in range(1, args.steps + 1):
        batch = next(batches, None)
        if batch is None:  # the epoch is over: start the next
            batches = iter(loader)
            batch = next(batches)
        loss = ddp(batch["input_ids"], batch["attention_mask"], batch["labels"]).loss
        loss.backward()  # the gradient all-reduce overlaps with this backward
        tc.optim.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad()
        first = loss.item() if first is None else first
        if is_main_process() and (step % 4 == 0 or step == args.steps):
            print(f"step {step:>4}  loss {loss.item():.3f} (rank 0's share)", flush=True)

    prints = fingerprints(model)
    if is_main_process():
        print(f"loss {first:.3f} -> {loss.item():.3f}")
        print(f"weight fingerprints: {_listing(prints)}")
        identical = all(p == prints[0] for p in prints)
        print(f"replicas identical after {args.steps} steps: {identical}")
        if not identical:
            raise SystemExit("the replicas drifted apart")


if __name__ == "__main__":
    main()
