"""A backend whose arrays are shapes and dtypes only, counting the bytes they would take.

`ShapeBackend` is the reference backend on torch's "meta" device: every primitive runs
the reference backend's own torch code, which on meta tensors computes result shapes
and allocates nothing, so a 70B model's training step can be run in seconds. While
`counting()` is active, every array torch creates (including the temporaries inside a
primitive, which only torch sees) is added to `live` when it is made and taken off when
its storage is freed; `peak` is the most alive at once. This is the accounting the CPU
allocator does for the reference backend, without the memory.

With `tile=True` each array is counted as a tt device stores it: in 32x32 tiles (the
last two dims rounded up to 32; a 1-d array is one tile row tall), integers as int32;
frozen linear weights get the [in, out] copy the tt backend keeps of each
(`FrozenLayouts`; a frozen `grouped_linear` group its [in, O] and [O, in] copies, its
step counted as the per-member ops), and where the tt backend's training code is its
own it is run instead of the reference's, on a stand-in for its ttnn calls: attention
(`tt.attention.attention`: the fused kernel, or fp32 scores formed explicitly; the
backward's recomputed fp32 scores; causal masks kept) and the
optimizer steps (`TTBackend.adamw_step` / `sgd_step`: one parameter at a time,
bfloat16 ones through moreh's fused in-place kernels).

It is the memory planner's tool, not a user backend: `get_backend` cannot name it.
"""

from __future__ import annotations

import contextlib
import math
import weakref
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

from ttcustom.backends.reference import ReferenceBackend, _flash_cpu_takes_gqa
from ttcustom.backends.tt.attention import attention, attention_backward
from ttcustom.backends.tt.backend import TILE, TTBackend
from ttcustom.backends.tt.frozen import FrozenLayouts
from ttcustom.backends.tt.grouped import GroupedOps


class LiveBytes(TorchDispatchMode):
    """Counts the meta arrays torch creates while active: `live` bytes now, `peak`."""

    def __init__(self, nbytes: Callable[[torch.Tensor, torch.UntypedStorage], float]) -> None:
        super().__init__()
        self.nbytes = nbytes
        self.live = 0.0
        self.peak = 0.0
        self._alive: dict[int, float] = {}

    def reset_peak(self) -> None:
        """Make the peak start again from what is alive now."""
        self.peak = self.live

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (),
                           kwargs: Any = None) -> Any:
        out = func(*args, **(kwargs or {}))
        for leaf in tree_leaves(out):
            if isinstance(leaf, torch.Tensor) and leaf.device.type == "meta":
                self._track(leaf)
        return out

    def _track(self, array: torch.Tensor) -> None:
        storage = array.untyped_storage()
        key = storage._cdata
        if key in self._alive:  # a view, or an in-place op's result
            return
        size = self.nbytes(array, storage)
        self._alive[key] = size
        self.live += size
        self.peak = max(self.peak, self.live)
        weakref.finalize(storage, self._free, key)

    def _free(self, key: int) -> None:
        self.live -= self._alive.pop(key)


class _MetaTTNN:
    """The ttnn calls of the `TTBackend` code the tile mode runs (optimizer steps,
    training attention), on meta tensors: the fused moreh kernels write their outputs in
    place (no new arrays), the rest are torch ops."""

    bfloat16 = torch.bfloat16
    add, multiply, subtract, divide = torch.add, torch.mul, torch.sub, torch.div
    sqrt, exp, log, clone, tril = torch.sqrt, torch.exp, torch.log, torch.clone, torch.tril

    @staticmethod
    def max(a: torch.Tensor, dim: int, keepdim: bool) -> torch.Tensor:
        return torch.amax(a, dim, keepdim)

    @staticmethod
    def copy(src: torch.Tensor, dst: torch.Tensor) -> None:
        dst.copy_(src)

    @staticmethod
    def moreh_adamw(*args: Any, **kwargs: Any) -> None:
        """In place into param_out, exp_avg_out, exp_avg_sq_out."""

    @staticmethod
    def moreh_sgd(*args: Any, **kwargs: Any) -> None:
        """In place into param_out and momentum_buffer_out."""

    @staticmethod
    def scale_mask_softmax(x: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        return torch.empty_like(x)

    class transformer:  # noqa: N801 (ttnn's namespace)
        @staticmethod
        def scaled_dot_product_attention(q: torch.Tensor, *args: Any,
                                         **kwargs: Any) -> torch.Tensor:
            """The fused kernel's output only: it holds no scores."""
            return torch.empty_like(q)


class ShapeBackend(ReferenceBackend):
    """The reference backend on "meta" arrays; `counting()` measures their bytes.

    `element_bytes` overrides the bytes per element of some dtypes (the planner stands
    bfloat8_b in with bfloat16 arrays counted at 1088/1024 bytes each).
    """

    def __init__(self, tile: bool = False,
                 element_bytes: Mapping[torch.dtype, float] | None = None) -> None:
        super().__init__("meta")
        _flash_cpu_takes_gqa()  # the CPU kernel's answer, asked before host tensors are meta
        self.tile = tile
        self.name = "shapes (tt tiles)" if tile else "shapes"
        self.element_bytes = dict(element_bytes or {})
        #: tt keeps each frozen linear weight's [in, out] copy (`TTBackend.hold_frozen`)
        self.frozen = FrozenLayouts(lambda weight: weight.transpose(-2, -1).contiguous())
        #: and a frozen group's [in, O] and [O, in] (`GroupedOps.hold_frozen_group`)
        self.frozen_groups = FrozenLayouts(_group_layout)
        self._tt = _TTStandIn(self)

    def __repr__(self) -> str:
        return f"ShapeBackend(tile={self.tile})"

    @contextlib.contextmanager
    def counting(self) -> Iterator[LiveBytes]:
        """Count every array created inside (live and peak bytes); `host_on_meta` too."""
        memory = LiveBytes(self._storage_bytes)
        with self.host_on_meta(), memory:
            yield memory

    @staticmethod
    def host_on_meta() -> contextlib.AbstractContextManager:
        """Inside, host torch tensors are meta as well: what a model computes on the host
        and uploads (rotary tables, masks) takes no memory either, however large."""
        return torch.device("meta")

    def nbytes(self, array: torch.Tensor) -> float:
        """Bytes `array` takes on the device this backend describes."""
        width = self._width(array.dtype)
        if not self.tile:
            return array.numel() * width
        shape = tuple(array.shape) or (1,)
        *lead, rows, cols = (1, *shape) if len(shape) == 1 else shape
        return math.prod(lead) * _round_up(rows) * _round_up(cols) * width

    def _storage_bytes(self, array: torch.Tensor, storage: torch.UntypedStorage) -> float:
        if storage.nbytes() == array.numel() * array.element_size():
            return self.nbytes(array)
        # a view of a larger new buffer: count the buffer, at this backend's widths
        return storage.nbytes() / array.element_size() * self._width(array.dtype)

    def _width(self, dtype: torch.dtype) -> float:
        if dtype in self.element_bytes:
            return self.element_bytes[dtype]
        if self.tile and not dtype.is_floating_point:
            return 4.0  # tt stores integers (and masks) as int32
        return float(dtype.itemsize)

    # ----------------------------------------------------------- where meta is not the CPU
    def storage_id(self, a):
        return id(a.untyped_storage())  # every meta storage's data_ptr is 0

    def _use_flash_cpu(self, q, mask) -> bool:
        return mask is None or mask.dtype == q.dtype  # the CPU's path, whatever the device

    def dropout_mask(self, shape, p, seed, dtype):
        return torch.empty(shape, dtype=dtype, device=self.device)

    # ------------------------------------------------------------------ tt's own memory
    def hold_frozen(self, weight):
        if self.tile:
            self.frozen.hold(weight)

    def hold_frozen_group(self, terms):
        if self.tile:
            GroupedOps.hold_frozen_group(self, terms)

    def kept_bytes(self) -> float:
        """Bytes the tt backend keeps across steps once a forward made them: frozen
        weights' copies (alone or grouped) and device constants (causal masks); none
        without tiles."""
        kept = [*self.frozen.copies(), *self.frozen_groups.copies(),
                *self._tt._constants.values()]
        storages = {array.untyped_storage()._cdata: array for array in kept}  # views once
        return sum(self.nbytes(array) for array in storages.values())

    def sdpa(self, q, k, v, mask, is_causal, scale, need_logsumexp=True):
        if not (self.tile and need_logsumexp):
            return super().sdpa(q, k, v, mask, is_causal, scale, need_logsumexp)
        return attention(self._tt, q, k, v, mask, is_causal, scale), None

    def sdpa_backward(self, grad, q, k, v, out, logsumexp, mask, is_causal, scale):
        if not self.tile:
            return super().sdpa_backward(grad, q, k, v, out, logsumexp, mask, is_causal, scale)
        return attention_backward(self._tt, grad, q, k, v, mask, is_causal, scale)

    def adamw_step(self, *args: Any, **kwargs: Any) -> None:
        if not self.tile:
            return super().adamw_step(*args, **kwargs)  # the CPU's grouping
        return TTBackend.adamw_step(self._tt, *args, **kwargs)

    def sgd_step(self, *args: Any, **kwargs: Any) -> list:
        if not self.tile:
            return super().sgd_step(*args, **kwargs)
        return TTBackend.sgd_step(self._tt, *args, **kwargs)


class _TTStandIn:
    """The `TTBackend` whose code the tile mode runs (its training attention, its
    optimizer steps): ttnn's calls on meta tensors, the tt backend's own helpers those
    need, and the shape backend's primitives for the rest of the protocol."""

    ttnn = _MetaTTNN
    kernel_config = None
    constant = TTBackend.constant  # device constants (causal masks), kept like tt keeps them
    logsumexp_last = TTBackend.logsumexp_last

    def __init__(self, backend: ShapeBackend) -> None:
        self._backend = backend
        self._constants: dict[tuple, Any] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._backend, name)

    def _written(self, array: Any) -> None:
        """Nothing is derived from the arrays of a shape backend."""

    def derived(self, source: Any, kind: tuple, make: Any) -> Any:
        return make()

    def pad_to_tile(self, a: torch.Tensor, dims: Any, value: float) -> torch.Tensor:
        """A new array, `dims` rounded up to tiles (as tt pads: a copy)."""
        shape = list(a.shape)
        for d in dims:
            shape[d] = _round_up(shape[d])
        return a if shape == list(a.shape) else torch.empty(shape, dtype=a.dtype,
                                                           device=a.device)

    def crop(self, a: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
        if tuple(a.shape) == tuple(shape):
            return a
        return a[tuple(slice(0, n) for n in shape)].clone()

    def _sum(self, a: torch.Tensor, dims: Any, keepdim: bool) -> torch.Tensor:
        return self._backend.sum(a, dims, keepdim)

    def copy_(self, dst: Any, src: Any) -> None:
        dst.copy_(src)

    def reshape(self, a: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
        """A new array when the last dim changes (tiles are re-laid: a [..., 1] column
        padded to 32 becomes a row), a view otherwise."""
        out = a.reshape(shape)
        return out.clone() if tuple(shape)[-1:] != tuple(a.shape)[-1:] else out

    def empty(self, shape: tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
        return torch.empty(shape, dtype=like.dtype, device=like.device)

    def matmul(self, a, b, transpose_a=False, transpose_b=False, dtype=None):
        """ttnn.matmul's result, in `dtype` when given (the kernel writes it directly)."""
        a = a.transpose(-1, -2) if transpose_a else a
        b = b.transpose(-1, -2) if transpose_b else b
        shape = (*torch.broadcast_shapes(a.shape[:-2], b.shape[:-2]), a.shape[-2], b.shape[-1])
        return torch.empty(shape, dtype=dtype or a.dtype, device=a.device)


def _group_layout(*weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    rows = torch.cat(weights)
    return rows.transpose(-2, -1).contiguous(), rows


def _round_up(n: int) -> int:
    return -(-n // TILE) * TILE


__all__ = ["LiveBytes", "ShapeBackend"]
