"""A captured step on the reference backend, compiled by `torch.compile` (inductor).

Inductor fuses the step's elementwise chains (norms, SwiGLU, rotary, the loss, the
optimizer update) across what eager runs as separate kernels. On CUDA the compiled
step also runs as a CUDA graph ("reduce-overhead"). Per-step scalars (lr, step
count) enter as 0-d float64 tensors, so a new value does not recompile.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch


def compiled_runner(program: Any, device: torch.device) -> Callable[[list, list], tuple]:
    """`runner(inputs, scalars)` running `program.function` under torch.compile."""
    mode = "reduce-overhead" if device.type == "cuda" else None
    compiled = torch.compile(program.function, mode=mode, dynamic=False)

    def run(inputs: list, scalars: list) -> tuple:
        tensors = [torch.tensor(float(s), dtype=torch.float64, device=device) for s in scalars]
        return compiled(inputs, tensors)

    return run


__all__ = ["compiled_runner"]
