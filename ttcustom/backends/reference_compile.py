"""A captured step on the reference backend, compiled by `torch.compile` (inductor).

Inductor fuses the step's elementwise chains (norms, SwiGLU, rotary, the loss, the
optimizer update) across what eager runs as separate kernels. On CUDA the CUDA-graph
mode ("reduce-overhead") is requested; torch skips the graph (and says so in its log)
for a program that mutates inputs it cannot prove static, such as the parameters an
optimizer updates. Not tested on a GPU here. Per-step scalars (lr, step count) enter
as 0-d float64 tensors, so a new value does not recompile.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any

import torch

#: primitives left to their eager kernels: inductor's decomposition of the loss over the
#: vocabulary keeps [tokens, vocab] float32 buffers alive together that the fused eager
#: kernels free one by one (the largest arrays of an LM's step)
EAGER_PRIMITIVES = ("cross_entropy", "cross_entropy_backward")


def compiled_runner(program: Any, device: torch.device) -> Callable[[list, list], tuple]:
    """`runner(inputs, scalars)` running `program.function` under torch.compile."""
    mode = "reduce-overhead" if device.type == "cuda" else None
    compiled = torch.compile(_with_eager_primitives(program), mode=mode, dynamic=False)

    def run(inputs: list, scalars: list) -> tuple:
        tensors = [torch.tensor(float(s), dtype=torch.float64, device=device) for s in scalars]
        return compiled(inputs, tensors)

    run.reuses_outputs = mode is not None  # a CUDA graph's outputs are its static buffers
    return run


def _with_eager_primitives(program: Any) -> Callable[[list, list], tuple]:
    """`program.function` calling `EAGER_PRIMITIVES` outside the compiled graph."""
    function, backend = program.function, program.backend
    calls = {name: getattr(backend, name) for name in dir(backend) if not name.startswith("_")}
    calls.update({name: torch.compiler.disable(calls[name]) for name in EAGER_PRIMITIVES})
    proxy = types.SimpleNamespace(**calls)
    return types.FunctionType(function.__code__, {**function.__globals__, "B": proxy},
                              function.__name__)


__all__ = ["compiled_runner"]
