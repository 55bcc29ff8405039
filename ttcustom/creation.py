"""Tensor factories: `tensor`, `from_torch`, `zeros`, `ones`, `full`, `randn`, `arange`."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ttcustom.autograd.tensor import Tensor
from ttcustom.backends import Backend, get_backend


def from_torch(
    value: torch.Tensor,
    dtype: torch.dtype | None = None,
    requires_grad: bool = False,
    backend: str | Backend | None = None,
) -> Tensor:
    """Upload a host torch tensor (copy) to a backend as a leaf Tensor."""
    chosen = get_backend(backend)
    return Tensor(chosen.upload(value, dtype), chosen, requires_grad=requires_grad)


def tensor(
    data: Any,
    dtype: torch.dtype | None = None,
    requires_grad: bool = False,
    backend: str | Backend | None = None,
) -> Tensor:
    """Like `torch.tensor`: from a torch tensor, numpy array, list or number."""
    if isinstance(data, Tensor):
        data = data.to_torch()
    host = data if isinstance(data, torch.Tensor) else torch.as_tensor(np.asarray(data))
    if dtype is None and host.dtype == torch.float64:
        dtype = torch.float32
    return from_torch(host, dtype, requires_grad, backend)


def full(shape, value: float, dtype=torch.float32, requires_grad=False, backend=None) -> Tensor:
    chosen = get_backend(backend)
    return Tensor(chosen.full(tuple(shape), value, dtype), chosen, requires_grad=requires_grad)


def zeros(*shape, dtype=torch.float32, requires_grad=False, backend=None) -> Tensor:
    return full(_shape(shape), 0.0, dtype, requires_grad, backend)


def ones(*shape, dtype=torch.float32, requires_grad=False, backend=None) -> Tensor:
    return full(_shape(shape), 1.0, dtype, requires_grad, backend)


def randn(*shape, dtype=torch.float32, requires_grad=False, backend=None) -> Tensor:
    """Normal samples drawn on the host from torch's seeded generator, then uploaded."""
    return from_torch(torch.randn(_shape(shape)), dtype, requires_grad, backend)


def arange(*args, dtype=torch.int64, backend=None) -> Tensor:
    return from_torch(torch.arange(*args, dtype=dtype), backend=backend)


def _shape(args: tuple) -> tuple[int, ...]:
    return tuple(args[0]) if len(args) == 1 and not isinstance(args[0], int) else tuple(args)
