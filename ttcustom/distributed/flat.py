"""Flat buffers: many arrays travel as one, so a bucket costs one collective.

Written with backend primitives (reshape, concat, slice), so the same code packs torch
arrays for `torch.distributed` and device arrays for a mesh collective.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from ttcustom.autograd.tensor import Tensor
from ttcustom.backends.base import Array, Backend, Shape


def group_by_size(tensors: Sequence[Tensor], cap_bytes: int) -> list[list[int]]:
    """Indices of `tensors` in groups of one dtype, each closed once it holds `cap_bytes`.

    Groups keep the order of `tensors`; a tensor larger than the cap gets a group alone.
    """
    groups: list[list[int]] = []
    sizes: list[int] = []
    open_slot: dict[torch.dtype, int] = {}
    for index, tensor in enumerate(tensors):
        slot = open_slot.get(tensor.dtype)
        if slot is None:
            slot = open_slot[tensor.dtype] = len(groups)
            groups.append([])
            sizes.append(0)
        groups[slot].append(index)
        sizes[slot] += tensor.numel() * tensor.dtype.itemsize
        if sizes[slot] >= cap_bytes:
            del open_slot[tensor.dtype]
    return groups


def flatten(backend: Backend, arrays: Sequence[Array]) -> Array:
    """One new 1-D array holding `arrays` back to back (a copy, never a view)."""
    return backend.concat(
        [backend.reshape(a, (math.prod(backend.shape(a)),)) for a in arrays], 0
    )


def unflatten(backend: Backend, flat: Array, shapes: Sequence[Shape]) -> list[Array]:
    """The arrays `flatten` packed into `flat`, given their shapes."""
    arrays, offset = [], 0
    for shape in shapes:
        count = math.prod(shape)
        arrays.append(backend.reshape(backend.slice(flat, (slice(offset, offset + count),)), shape))
        offset += count
    return arrays
