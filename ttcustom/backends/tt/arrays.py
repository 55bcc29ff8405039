"""Shape and dtype helpers over tt arrays, shared by the backend and its topic modules:
reshape targets, basic indexing as one strided slice, matmul batch broadcasting,
per-feature sums, the bfloat16 test that picks a fused kernel or a composition."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

Array = Any
TILE = 32


def resolve_shape(source: tuple[int, ...], shape: Sequence[int]) -> tuple[int, ...]:
    """`shape` with a -1 replaced by the size that keeps the element count of `source`."""
    shape = tuple(shape)
    if -1 not in shape:
        return shape
    known = math.prod(n for n in shape if n != -1)
    return tuple(math.prod(source) // known if n == -1 else n for n in shape)


@dataclass(frozen=True)
class IndexPlan:
    """Basic indexing as one strided ttnn.slice plus a reshape."""

    source_shape: tuple[int, ...]
    starts: list[int]
    ends: list[int]
    steps: list[int]
    kept_shape: tuple[int, ...]  # the slice's shape, every source dim kept
    out_shape: tuple[int, ...]  # after dropping int-indexed dims and adding None dims

    @property
    def is_full(self) -> bool:
        return self.kept_shape == self.source_shape and all(s == 1 for s in self.steps)


def plan_index(shape: tuple[int, ...], index: tuple) -> IndexPlan:
    """Translate ints, slices (step >= 1), None and Ellipsis over `shape` into an IndexPlan."""
    index = index if isinstance(index, tuple) else (index,)
    consuming = sum(item is not None and item is not Ellipsis for item in index)
    if consuming > len(shape):
        raise IndexError(f"too many indices ({consuming}) for a tensor of shape {shape}")
    items: list = []
    for item in index:
        items.extend([slice(None)] * (len(shape) - consuming) if item is Ellipsis else [item])
    items.extend([slice(None)] * (len(shape) - sum(i is not None for i in items)))
    starts, ends, steps, kept, out = [], [], [], [], []
    dim = 0
    for item in items:
        if item is None:
            out.append(1)
            continue
        size = shape[dim]
        if isinstance(item, int):
            if not -size <= item < size:
                raise IndexError(f"index {item} out of range for dim {dim} of size {size}")
            start, stop, step = item % size, item % size + 1, 1
        else:
            start, stop, step = item.indices(size)
            if step < 1:
                raise ValueError(f"slice step must be >= 1, got {step}")
        length = len(range(start, stop, step))
        starts.append(start)
        ends.append(max(stop, start))
        steps.append(step)
        kept.append(length)
        if not isinstance(item, int):
            out.append(length)
        dim += 1
    return IndexPlan(tuple(shape), starts, ends, steps, tuple(kept), tuple(out))


def broadcast_batch(bk, a: Array, b: Array) -> tuple[Array, Array]:
    """Expand the batch dims of two matmul operands to a common shape (torch broadcasting)."""
    sa, sb = bk.shape(a), bk.shape(b)
    if len(sb) == 2 or sa[:-2] == sb[:-2]:
        return a, b
    batch = tuple(torch.broadcast_shapes(sa[:-2], sb[:-2]))

    def expand(x: Array, s: tuple[int, ...]) -> Array:
        x = bk.reshape(x, (1,) * (len(batch) + 2 - len(s)) + s)
        return bk.expand(x, batch + s[-2:])

    return expand(a, sa), expand(b, sb)


def sum_rows(bk, a: Array) -> Array:
    """Sum over every dim but the last (a per-feature gradient)."""
    ndim = len(bk.shape(a))
    return bk.sum(a, list(range(ndim - 1)), keepdim=False) if ndim > 1 else a


def is_bf16(bk, a: Array) -> bool:
    return bk.dtype(a) == torch.bfloat16
