"""Training-step speed of ttcustom (reference backend) vs the identical PyTorch eager model.

Same process, same threads, same weights and batches; repetitions are interleaved
(ours, eager, ours, eager, ...) so drift in machine speed hits both. Prints the median
tokens/s of each and their ratio.

    python -m benchmarks.step_speed --batch 8 --steps 5 --repeats 5
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

import ttcustom as tc
from benchmarks.tiny_llama import Shape, paired_models


def _time_steps(step, batches) -> float:
    start = time.perf_counter()
    for ids, labels in batches:
        step(ids, labels)
    return time.perf_counter() - start


def measure(shape: Shape, batch: int, steps: int, repeats: int, backend: str = "cpu") -> dict:
    tc.set_default_backend(backend)
    tc.manual_seed(0)
    ours, theirs = paired_models(shape)
    tc_opt = tc.optim.AdamW(ours.parameters(), lr=1e-4)
    torch_opt = torch.optim.AdamW(theirs.parameters(), lr=1e-4)
    g = torch.Generator().manual_seed(0)
    host = [torch.randint(0, shape.vocab, (batch, shape.seq), generator=g) for _ in range(steps)]
    host_batches = [(ids, ids.roll(-1, 1)) for ids in host]
    tc_batches = [(tc.tensor(i), tc.tensor(y)) for i, y in host_batches]

    def tc_step(ids, labels):
        loss = ours(ids, labels)
        loss.backward()
        tc.optim.clip_grad_norm_(ours.parameters(), 1.0)
        tc_opt.step()
        tc_opt.zero_grad()
        loss.item()

    def torch_step(ids, labels):
        loss = theirs(ids, labels)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(theirs.parameters(), 1.0)
        torch_opt.step()
        torch_opt.zero_grad()
        loss.item()

    _time_steps(tc_step, tc_batches[:1])  # warm-up both
    _time_steps(torch_step, host_batches[:1])
    ours_t, eager_t = [], []
    for _ in range(repeats):
        ours_t.append(_time_steps(tc_step, tc_batches))
        eager_t.append(_time_steps(torch_step, host_batches))
    tokens = batch * shape.seq * steps
    ours_tps = tokens / statistics.median(ours_t)
    eager_tps = tokens / statistics.median(eager_t)
    return {
        "workload": f"llama-{shape.layers}x{shape.dim} seq {shape.seq} batch {batch}",
        "params": sum(p.numel() for p in ours.parameters()),
        "threads": torch.get_num_threads(),
        "ttcustom_tokens_per_s": round(ours_tps, 1),
        "eager_tokens_per_s": round(eager_tps, 1),
        "ttcustom_steps_per_s": round(ours_tps / (batch * shape.seq), 3),
        "eager_steps_per_s": round(eager_tps / (batch * shape.seq), 3),
        "ratio_vs_eager": round(ours_tps / eager_tps, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--seq", type=int, default=256)
    parser.add_argument("--backend", default="cpu")
    args = parser.parse_args()
    shape = Shape(dim=args.dim, layers=args.layers, seq=args.seq)
    print(json.dumps(measure(shape, args.batch, args.steps, args.repeats, args.backend), indent=2))


if __name__ == "__main__":
    main()
