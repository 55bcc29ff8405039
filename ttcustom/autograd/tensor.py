"""`Tensor`: a backend array with autograd metadata and a torch-like method surface."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import torch

from ttcustom.autograd.function import is_grad_enabled, no_grad, run_backward
from ttcustom.backends import Backend, get_backend
from ttcustom.backends.base import Array


class Tensor:
    """A backend array plus `requires_grad`, `.grad` and the node that produced it."""

    __slots__ = (
        "data",
        "backend",
        "requires_grad",
        "grad",
        "grad_fn",
        "_accumulator",
        "_post_accumulate_grad_hooks",
        "__weakref__",
    )

    def __init__(self, data: Array, backend: Backend, requires_grad: bool = False) -> None:
        self.data = data
        self.backend = backend
        self.requires_grad = requires_grad
        self.grad: Tensor | None = None
        self.grad_fn = None
        self._accumulator = None
        self._post_accumulate_grad_hooks: list[Callable[[Tensor], None]] = []

    # ------------------------------------------------------------------ metadata
    @property
    def shape(self) -> tuple[int, ...]:
        return self.backend.shape(self.data)

    def size(self, dim: int | None = None) -> tuple[int, ...] | int:
        return self.shape if dim is None else self.shape[dim]

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def dim(self) -> int:
        return self.ndim

    def numel(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    def __len__(self) -> int:
        return self.shape[0]

    @property
    def dtype(self) -> torch.dtype:
        return self.backend.dtype(self.data)

    @property
    def device(self) -> str:
        return self.backend.name

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    def __repr__(self) -> str:
        grad = f", grad_fn={self.grad_fn!r}" if self.grad_fn is not None else ""
        req = ", requires_grad=True" if self.requires_grad and self.is_leaf else ""
        return f"tensor({self.to_torch()}, backend={self.backend.name}{req}{grad})"

    # ------------------------------------------------------------------ host interop
    def to_torch(self) -> torch.Tensor:
        """A host torch copy (a device->host transfer)."""
        return self.backend.download(self.data)

    def numpy(self) -> np.ndarray:
        host = self.to_torch()
        return (host.float() if host.dtype == torch.bfloat16 else host).numpy()

    def item(self) -> float:
        if self.numel() != 1:
            raise ValueError(f"item() needs a tensor with one element, got shape {self.shape}")
        return self.to_torch().item()

    def tolist(self) -> Any:
        return self.to_torch().tolist()

    # ------------------------------------------------------------------ autograd
    def backward(self, gradient: Tensor | None = None, retain_graph: bool = False) -> None:
        """Accumulate d self / d leaf into every leaf's `.grad` (torch semantics)."""
        if not self.requires_grad:
            raise RuntimeError(
                "backward(): this tensor does not require grad and has no grad_fn "
                "(was it computed under no_grad(), or from tensors without requires_grad?)"
            )
        if gradient is None:
            if self.numel() != 1:
                raise RuntimeError(
                    f"backward(): grad can be implicitly created only for scalar outputs; "
                    f"this tensor has shape {self.shape}. Pass `gradient` of that shape."
                )
            grad = self.backend.full(self.shape, 1.0, self.dtype)
        else:
            if gradient.shape != self.shape:
                raise RuntimeError(
                    f"backward(): gradient has shape {gradient.shape}, expected {self.shape}"
                )
            grad = gradient.data
        run_backward(self, grad, retain_graph=retain_graph)

    def detach(self) -> Tensor:
        """The same array, cut from the graph."""
        return Tensor(self.data, self.backend)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if not self.is_leaf:
            raise RuntimeError("requires_grad_() can only change leaf tensors; use detach()")
        self.requires_grad = requires_grad
        return self

    def register_post_accumulate_grad_hook(self, hook: Callable[[Tensor], None]) -> Callable:
        """Call `hook(self)` each time a gradient is accumulated into `self.grad`."""
        self._post_accumulate_grad_hooks.append(hook)
        return hook

    # ------------------------------------------------------------------ in place
    def zero_(self) -> Tensor:
        with no_grad():
            self.backend.copy_(self.data, self.backend.full(self.shape, 0.0, self.dtype))
        return self

    def copy_(self, src: Tensor | torch.Tensor) -> Tensor:
        """Overwrite values from a Tensor or host torch tensor of the same shape."""
        if isinstance(src, torch.Tensor):
            src_data = self.backend.upload(src, self.dtype)
        else:
            src_data = self.backend.cast(src.data, self.dtype)
        if self.backend.shape(src_data) != self.shape:
            raise ValueError(f"copy_: source shape {tuple(src.shape)} != {self.shape}")
        self.backend.copy_(self.data, src_data)
        return self

    # ------------------------------------------------------------------ conversions
    def to(self, target: torch.dtype | str | Backend) -> Tensor:
        """Cast to a dtype, or move to another backend (as a new leaf)."""
        if isinstance(target, torch.dtype):
            return F.cast(self, target)
        backend = get_backend(target)
        if backend is self.backend:
            return self
        moved = Tensor(backend.upload(self.to_torch()), backend)
        moved.requires_grad = self.requires_grad and is_grad_enabled()
        return moved

    def float(self) -> Tensor:
        return self.to(torch.float32)

    def bfloat16(self) -> Tensor:
        return self.to(torch.bfloat16)

    # ------------------------------------------------------------------ operators
    def __add__(self, other: Tensor | float) -> Tensor:
        return F.add(self, other)

    def __radd__(self, other: float) -> Tensor:
        return F.add(self, other)

    def __sub__(self, other: Tensor | float) -> Tensor:
        return F.sub(self, other)

    def __rsub__(self, other: float) -> Tensor:
        return F.add(F.neg(self), other)

    def __mul__(self, other: Tensor | float) -> Tensor:
        return F.mul(self, other)

    def __rmul__(self, other: float) -> Tensor:
        return F.mul(self, other)

    def __truediv__(self, other: Tensor | float) -> Tensor:
        return F.div(self, other)

    def __rtruediv__(self, other: float) -> Tensor:
        return F.mul(F.pow(self, -1.0), other)

    def __neg__(self) -> Tensor:
        return F.neg(self)

    def __pow__(self, exponent: float) -> Tensor:
        return F.pow(self, exponent)

    def __matmul__(self, other: Tensor) -> Tensor:
        return F.matmul(self, other)

    def __getitem__(self, index: Any) -> Tensor:
        return F.slice(self, index)

    # ------------------------------------------------------------------ methods
    def exp(self) -> Tensor:
        return F.exp(self)

    def pow(self, exponent: float) -> Tensor:
        return F.pow(self, exponent)

    def log(self) -> Tensor:
        return F.log(self)

    def sum(self, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
        return F.sum(self, dim, keepdim)

    def mean(self, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
        return F.mean(self, dim, keepdim)

    def reshape(self, *shape: int | Sequence[int]) -> Tensor:
        return F.reshape(self, _shape_arg(shape))

    view = reshape

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        return F.flatten(self, start_dim, end_dim)

    def unsqueeze(self, dim: int) -> Tensor:
        return F.unsqueeze(self, dim)

    def permute(self, *dims: int | Sequence[int]) -> Tensor:
        return F.permute(self, _shape_arg(dims))

    def transpose(self, dim0: int, dim1: int) -> Tensor:
        return F.transpose(self, dim0, dim1)

    @property
    def mT(self) -> Tensor:  # noqa: N802 (torch's name)
        return F.transpose(self, -2, -1)

    def softmax(self, dim: int) -> Tensor:
        return F.softmax(self, dim)


def zero_grads_(tensors: Iterable[Tensor], set_to_none: bool = True) -> None:
    """Drop (or zero in place) the `.grad` of each tensor: Module/Optimizer.zero_grad."""
    for tensor in tensors:
        if tensor.grad is None:
            continue
        if set_to_none:
            tensor.grad = None
        else:
            tensor.grad.zero_()


def _shape_arg(args: tuple) -> tuple[int, ...]:
    """Accept both t.reshape(2, 3) and t.reshape((2, 3))."""
    return tuple(args[0]) if len(args) == 1 and not isinstance(args[0], int) else tuple(args)


from ttcustom import functional as F  # noqa: E402  (functional builds on Tensor)
