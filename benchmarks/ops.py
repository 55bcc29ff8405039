"""Microbenchmarks of the hot primitives: ttcustom.functional vs torch eager, same inputs.

Each case is one training-relevant call, forward and backward (or one optimizer step),
at the shapes of a workload: linear (the MLP up-projection), causal attention (GQA where
the workload has it), rms_norm, cross_entropy over the vocabulary, and AdamW over the
workload's trainable parameters. Timing is interleaved like the step benchmark; each
sample runs the call enough times to last about `sample_seconds`.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as TF

import ttcustom as tc
import ttcustom.functional as F
from benchmarks.contenders import torch_model
from benchmarks.workloads import Workload

Call = Callable[[], None]


@dataclass
class OpCase:
    name: str
    shape: str
    ours: Call
    eager: Call


def _pair(host: torch.Tensor, backend: str) -> tuple[tc.Tensor, torch.Tensor]:
    """The same values as a ttcustom leaf and a torch leaf, both requiring grad."""
    return (tc.tensor(host, requires_grad=True, backend=backend),
            host.clone().requires_grad_(True))


def _fwd_bwd(ours_fn: Callable[..., tc.Tensor], eager_fn: Callable[..., torch.Tensor],
             inputs: list[torch.Tensor], backend: str) -> tuple[Call, Call]:
    """Calls running forward and backward (upstream gradient all ones) on both."""
    pairs = [_pair(x, backend) for x in inputs]
    ours_in, eager_in = [p[0] for p in pairs], [p[1] for p in pairs]
    out_shape = eager_fn(*eager_in).shape
    ones_ours = tc.ones(*out_shape, backend=backend)
    ones_eager = torch.ones(out_shape)

    def ours() -> None:
        ours_fn(*ours_in).backward(ones_ours)
        for t in ours_in:
            t.grad = None

    def eager() -> None:
        eager_fn(*eager_in).backward(ones_eager)
        for t in eager_in:
            t.grad = None

    return ours, eager


def _adamw(workload: Workload, backend: str) -> tuple[Call, Call, int]:
    """One AdamW step over the workload's trainable parameter shapes (random values)."""
    with torch.device("meta"):
        shapes = [p.shape for p in torch_model(workload).parameters() if p.requires_grad]
    ours_params, eager_params = [], []
    for shape in shapes:
        ours, eager = _pair(torch.randn(shape) * 0.02, backend)
        grad = torch.randn(shape)
        ours.grad, eager.grad = tc.tensor(grad, backend=backend), grad
        ours_params.append(ours)
        eager_params.append(eager)
    ours_opt = tc.optim.AdamW(ours_params, lr=1e-4)
    eager_opt = torch.optim.AdamW(eager_params, lr=1e-4)
    return ours_opt.step, eager_opt.step, sum(math.prod(s) for s in shapes)


def cases(workload: Workload, backend: str = "cpu") -> list[OpCase]:
    s = workload.shape
    b, seq, hd = workload.batch, s.seq, s.head_dim
    g = torch.Generator().manual_seed(0)

    def rand(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=g)

    tokens = b * seq
    out = []
    ours, eager = _fwd_bwd(F.linear, TF.linear, [rand(b, seq, s.dim), rand(s.mlp, s.dim) * 0.02],
                           backend)
    out.append(OpCase("linear fwd+bwd", f"[{b},{seq},{s.dim}] x [{s.mlp},{s.dim}]", ours, eager))
    ours, eager = _fwd_bwd(
        lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
        lambda q, k, v: TF.scaled_dot_product_attention(q, k, v, is_causal=True,
                                                        enable_gqa=s.kv_heads != s.heads),
        [rand(b, s.heads, seq, hd), rand(b, s.kv_heads, seq, hd), rand(b, s.kv_heads, seq, hd)],
        backend)
    out.append(OpCase("attention fwd+bwd (causal)",
                      f"q [{b},{s.heads},{seq},{hd}], kv heads {s.kv_heads}", ours, eager))
    ours, eager = _fwd_bwd(lambda x, w: F.rms_norm(x, w, s.norm_eps),
                           lambda x, w: TF.rms_norm(x, (s.dim,), w, s.norm_eps),
                           [rand(b, seq, s.dim), 1.0 + rand(s.dim) * 0.1], backend)
    out.append(OpCase("rms_norm fwd+bwd", f"[{b},{seq},{s.dim}]", ours, eager))
    target = torch.randint(0, s.vocab, (tokens,), generator=g)
    target_ours = tc.tensor(target, backend=backend)
    ours, eager = _fwd_bwd(lambda x: F.cross_entropy(x, target_ours),
                           lambda x: TF.cross_entropy(x, target), [rand(tokens, s.vocab)], backend)
    out.append(OpCase("cross_entropy fwd+bwd", f"[{tokens},{s.vocab}]", ours, eager))
    ours, eager, count = _adamw(workload, backend)
    out.append(OpCase("AdamW step", f"{count:,} params", ours, eager))
    return out


def _sample(call: Call, repetitions: int, sync: Call) -> float:
    sync()
    start = time.perf_counter()
    for _ in range(repetitions):
        call()
    sync()
    return (time.perf_counter() - start) / repetitions


def measure(workload: Workload, repeats: int, backend: str = "cpu",
            sample_seconds: float = 0.2) -> list[dict]:
    """Median seconds per call of each case on both sides, and eager/ttcustom."""
    sync = tc.get_backend(backend).synchronize
    results = []
    for case in cases(workload, backend):
        case.ours()  # warm-up (and the optimizer's state creation)
        case.eager()
        once = max(_sample(case.ours, 1, sync), _sample(case.eager, 1, sync))
        repetitions = max(1, math.ceil(sample_seconds / max(once, 1e-6)))
        ours, eager = [], []
        for _ in range(repeats):
            ours.append(_sample(case.ours, repetitions, sync))
            eager.append(_sample(case.eager, repetitions, sync))
        ours_s, eager_s = statistics.median(ours), statistics.median(eager)
        results.append({"op": case.name, "shape": case.shape, "workload": workload.name,
                        "ttcustom_ms": round(ours_s * 1e3, 4), "eager_ms": round(eager_s * 1e3, 4),
                        "speed_vs_eager": round(eager_s / ours_s, 3)})
    return results


__all__ = ["OpCase", "cases", "measure"]
