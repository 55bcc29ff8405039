"""A captured step as straight-line Python: one line per primitive call.

    def program(I, S):
        i0, i1, i2 = I
        s0 = B.embedding(i0, i1)
        s1, s2 = B.rms_norm(s0, i2, 1e-05)
        del s0
        ...
        return (s41, s7)

`I` holds the input arrays (step arguments, parameters, buffers, optimizer state),
`S` the per-step scalars, `B` is the backend. Each array is dropped right after its
last use, so a replay holds no more memory than the eager step it was recorded from.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from ttcustom.backends.base import Backend
from ttcustom.capture.recorder import CaptureUnsupported, Instruction, Ref, ScalarRef


@dataclass
class Program:
    """The generated code and what a replay feeds it.

    `inputs[j]` says where input `ij` comes from; `scalar_keys[k]` names `S[k]`;
    `function(I, S)` returns the arrays named by `outputs`.
    """

    source: str
    function: Callable[[list, list], tuple]
    inputs: list[Any]
    scalar_keys: list[tuple]
    outputs: list[str]
    ops: int
    backend: Backend


def build(instructions: list[Instruction], inputs: list[Any], scalar_keys: list[tuple],
          outputs: list[str], backend: Backend) -> Program:
    """Generate and `exec` the program's code."""
    last_use: dict[str, int] = {}
    for line, ins in enumerate(instructions):
        for name in _names((ins.args, ins.kwargs)):
            last_use[name] = line
    kept = set(outputs)
    body = []
    if inputs:
        body.append(f"    {', '.join(f'i{j}' for j in range(len(inputs)))}, = I")
    for line, ins in enumerate(instructions):
        call = f"B.{ins.op}({_call_args(ins)})"
        target = _pattern(ins.out)
        body.append(f"    {call}" if target == "_" else f"    {target} = {call}")
        # results read by no later line, and arguments read for the last time
        done = {n for n in _names(ins.out) if n not in last_use or last_use[n] <= line}
        done |= {n for n in _names((ins.args, ins.kwargs)) if last_use[n] == line}
        dead = sorted(n for n in done if n not in kept and n.startswith("s"))
        if dead:
            body.append(f"    del {', '.join(dead)}")
    body.append(f"    return ({''.join(f'{n}, ' for n in outputs)})")
    source = "def program(I, S):\n" + "\n".join(body) + "\n"
    namespace: dict[str, Any] = {"B": backend, "torch": torch}
    exec(compile(source, "<ttcustom captured step>", "exec"), namespace)  # noqa: S102
    return Program(source, namespace["program"], inputs, scalar_keys, outputs,
                   len(instructions), backend)


def _call_args(ins: Instruction) -> str:
    parts = [_src(a) for a in ins.args]
    parts += [f"{k}={_src(v)}" for k, v in ins.kwargs.items()]
    return ", ".join(parts)


def _src(value: Any) -> str:
    """Python source that evaluates to `value` (arrays as their names)."""
    if isinstance(value, Ref):
        return value.name
    if isinstance(value, ScalarRef):
        return f"S[{value.index}]"
    if isinstance(value, float) and not math.isfinite(value):
        return f"float({str(value)!r})"
    if isinstance(value, (bool, int, float, str, type(None))):
        return repr(value)
    if isinstance(value, torch.dtype):
        return str(value)
    if value is Ellipsis:
        return "..."
    if isinstance(value, slice):
        return f"slice({_src(value.start)}, {_src(value.stop)}, {_src(value.step)})"
    if isinstance(value, tuple):
        return "(" + "".join(f"{_src(v)}, " for v in value) + ")"
    if isinstance(value, list):
        return "[" + ", ".join(_src(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {_src(v)}" for k, v in value.items()) + "}"
    raise CaptureUnsupported(f"cannot write a {type(value).__name__} into a captured step")


def _pattern(out: Any) -> str:
    """The assignment target for a result pattern ("_" where nothing is kept)."""
    if isinstance(out, Ref):
        return out.name
    if isinstance(out, tuple) and any(n for n in _names(out)):
        return "(" + "".join(f"{_pattern(o)}, " for o in out) + ")"
    return "_"


def _names(value: Any) -> list[str]:
    if isinstance(value, Ref):
        return [value.name]
    if isinstance(value, (tuple, list)):
        return [n for v in value for n in _names(v)]
    if isinstance(value, dict):
        return [n for v in value.values() for n in _names(v)]
    return []


__all__ = ["Program", "build"]
