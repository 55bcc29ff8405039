"""What a training step costs the tt backend: ttnn calls, bytes copied, bytes resident.

`measure(backend, step)` runs `step()` with the backend's ttnn module wrapped in a
`CallMeter` and returns a `StepCost`: every ttnn call by op, the bytes materialised by
ops that only move data (layout changes, transposes, permutes, repeats, concats, pads,
expands, tile-padding fills), the host<->device transfers, and (given the parameters and the optimizer) the
bytes of weights (with the frozen weights' laid-out copies) and optimizer state
held on the device. It works with any ttnn-like
module (the real one, or the golden harness of the tests).

ttnn's matmul applies `transpose_a` / `transpose_b` to its operands before the op, not
in the kernels (`_ttnncpp.so`: "MatmulUnifiedProgramConfig: transposes are applied to
the operands before the op, not in the kernels"), so a transposed operand counts as a
copy of that operand (op name `matmul.transpose` / `linear.transpose`).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

#: ops whose only work is to write a rearranged copy of their input
COPY_OPS = frozenset({
    "to_layout", "tilize", "untilize", "tilize_with_val_padding", "untilize_with_unpadding",
    "transpose", "permute", "repeat", "repeat_interleave", "expand", "concat", "pad", "clone",
    "fill_implicit_tile_padding",
})
#: ops that take `transpose_a` / `transpose_b`
MATMULS = frozenset({"matmul", "linear"})
#: host<->device copies
TRANSFERS = frozenset({"from_torch", "to_torch"})
#: attributes that are namespaces of ops, not ops
NAMESPACES = frozenset({"transformer", "experimental"})

ELEMENT_BYTES = {"bfloat16": 2, "float32": 4, "int32": 4, "uint32": 4, "uint16": 2,
                 "uint8": 1, "bfloat8_b": 1088 / 1024, "bfloat4_b": 576 / 1024}


def tensor_bytes(tensor: Any) -> int:
    """Bytes a device tensor occupies: its tile-padded shape times its element size."""
    tensor = getattr(tensor, "tile", tensor)  # the backend's Scalar
    shape = getattr(tensor, "padded_shape", None) or tensor.shape
    name = str(tensor.dtype).rsplit(".", 1)[-1].lower()
    return round(math.prod(list(shape)) * ELEMENT_BYTES.get(name, 4))


@dataclass
class StepCost:
    """ttnn calls and bytes of one measured step (see module docstring)."""

    calls: Counter[str] = field(default_factory=Counter)
    #: bytes written by data-movement ops, per op
    copied: Counter[str] = field(default_factory=Counter)
    uploads: int = 0
    downloads: int = 0
    weight_bytes: int = 0
    optimizer_bytes: int = 0

    def __post_init__(self) -> None:
        self.calls, self.copied = Counter(self.calls), Counter(self.copied)

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())

    @property
    def copied_bytes(self) -> int:
        return sum(self.copied.values())

    def minus(self, other: StepCost) -> StepCost:
        """`self` less `other`, op by op, signed (two layers minus one: a layer; one layer
        minus a layer: the rest, negative for work the first layer skips)."""
        return StepCost(_signed(self.calls, other.calls), _signed(self.copied, other.copied),
                        self.uploads - other.uploads, self.downloads - other.downloads,
                        self.weight_bytes - other.weight_bytes,
                        self.optimizer_bytes - other.optimizer_bytes)

    def summary(self) -> dict[str, int]:
        return {"ttnn calls": self.total_calls, "bytes copied": self.copied_bytes,
                "uploads": self.uploads, "downloads": self.downloads,
                "weight bytes": self.weight_bytes, "optimizer bytes": self.optimizer_bytes}

    def format(self, title: str = "step", top: int = 8) -> str:
        lines = [f"{title}: " + ", ".join(f"{k} {v:,}" for k, v in self.summary().items())]
        if self.calls:
            lines.append("  calls: " + ", ".join(f"{k} {v}" for k, v in
                                                 self.calls.most_common(top)))
        if self.copied:
            lines.append("  copied: " + ", ".join(f"{k} {v / 1e6:.2f} MB" for k, v in
                                                  self.copied.most_common(top)))
        return "\n".join(lines)


def _signed(a: Counter[str], b: Counter[str]) -> Counter[str]:
    out = Counter({k: a.get(k, 0) - b.get(k, 0) for k in {*a, *b}})
    return Counter({k: v for k, v in out.items() if v})


class CallMeter:
    """A ttnn-like module that forwards to `ttnn` and records into `cost`."""

    def __init__(self, ttnn: Any, cost: StepCost, prefix: str = "") -> None:
        self._ttnn, self._cost, self._prefix = ttnn, cost, prefix

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._ttnn, name)
        if name in NAMESPACES:
            return CallMeter(value, self._cost, f"{self._prefix}{name}.")
        if not callable(value) or isinstance(value, type):
            return value
        op = self._prefix + name

        def call(*args: Any, **kwargs: Any) -> Any:
            result = value(*args, **kwargs)
            self._record(op, args, kwargs, result)
            return result

        return call

    def _record(self, op: str, args: tuple, kwargs: dict, result: Any) -> None:
        cost = self._cost
        cost.calls[op] += 1
        if op in COPY_OPS and _is_tensor(result):
            cost.copied[op] += tensor_bytes(result)
        if op in MATMULS:
            for flag, index in (("transpose_a", 0), ("transpose_b", 1)):
                if kwargs.get(flag) and len(args) > index:
                    cost.copied[f"{op}.transpose"] += tensor_bytes(args[index])


def _is_tensor(value: Any) -> bool:
    return hasattr(value, "dtype") and hasattr(value, "shape") and not isinstance(value, list)


def resident_bytes(arrays: Iterable[Any]) -> int:
    """Bytes of device arrays (each counted once)."""
    seen: dict[int, Any] = {}
    for a in arrays:
        if a is not None and id(a) not in seen:
            seen[id(a)] = a
    return sum(tensor_bytes(a) for a in seen.values())


def measure(backend: Any, step: Callable[[], Any], parameters: Iterable[Any] = (),
            optimizer: Any = None) -> StepCost:
    """Run `step()` on the tt `backend` and return what it cost (see `StepCost`);
    `parameters` and `optimizer` (ttcustom objects) give the resident bytes after it."""
    cost = StepCost()
    real = backend.ttnn
    uploads, downloads = backend.transfers.uploads, backend.transfers.downloads
    backend.ttnn = CallMeter(real, cost)
    try:
        step()
    finally:
        backend.ttnn = real
    cost.uploads = backend.transfers.uploads - uploads
    cost.downloads = backend.transfers.downloads - downloads
    held = [copy for name in ("frozen", "frozen_groups")  # frozen weights' layouts
            for copy in (getattr(backend, name).copies() if hasattr(backend, name) else ())]
    cost.weight_bytes = resident_bytes([*(p.data for p in parameters), *held])
    if optimizer is not None:
        cost.optimizer_bytes = resident_bytes(
            getattr(v, "data", v) for state in optimizer.state.values()
            for v in state.values() if hasattr(getattr(v, "data", v), "dtype"))
    return cost


__all__ = ["CallMeter", "StepCost", "measure", "resident_bytes", "tensor_bytes"]
