"""The tt backend: every primitive as ttnn ops on a Tenstorrent device.

Arrays are device `ttnn.Tensor`s in TILE layout (integers too), bfloat16 by default or
float32 where a caller asks for it (master weights, optimizer state). ttnn pads tiles
itself and reports logical shapes, so the padding stays hidden; the backend adds
explicit padding and masking only where a kernel needs tile-aligned sizes (fused
attention, embedding backward) and zeroes tile padding before a matmul contracts over
it. Fused kernels are used where ttnn has them, compositions of ttnn ops for the rest.
Nothing in a primitive reads values back to the host.

This module holds the core (data movement, shapes, elementwise, reductions, matmul and
linear, random masks, device constants, the mesh); each topic's primitives, forward
and backward, live in one module of this package, mixed in: `attention` (sdpa,
rotary), `norms`, `losses` (softmax, log-softmax, cross entropy), `embedding`, `optim`
(AdamW, SGD, gradient norms), `lora` (the LoRA linear), `grouped` (projections
sharing an input, fused); `arrays` holds the shape helpers
they share.

The ttnn module is a constructor argument, so the same code runs on hardware and, in
the tests, against Tenstorrent's golden (torch) functions.
"""

from __future__ import annotations

import functools
import importlib
from collections import OrderedDict
from collections.abc import Sequence
from types import ModuleType
from typing import Any

import torch

from ttcustom.backends.base import Array, Backend, Shape
from ttcustom.backends.tt.arrays import TILE, broadcast_batch, plan_index, resolve_shape
from ttcustom.backends.tt.attention import AttentionOps
from ttcustom.backends.tt.device import TTDevice
from ttcustom.backends.tt.embedding import EmbeddingOps
from ttcustom.backends.tt.frozen import FrozenLayouts
from ttcustom.backends.tt.grouped import GroupedOps
from ttcustom.backends.tt.lora import LoRAOps
from ttcustom.backends.tt.losses import LossOps
from ttcustom.backends.tt.norms import NormOps
from ttcustom.backends.tt.optim import OptimOps

#: arrays `TTBackend.derived` keeps (a forward's rotary tables)
DERIVED_KEPT = 8


class Scalar:
    """A rank-0 value on the device, stored as one [1, 1] tile.

    ttnn's reshape, repeat and expand reject rank-0 tensors, so the backend keeps none:
    `shape()` reports () for a Scalar, every ttnn call gets its tile. Other attributes
    (dtype, a mesh tensor's shards) are the tile's.
    """

    __slots__ = ("tile",)

    def __init__(self, tile: Any) -> None:
        self.tile = tile

    def __getattr__(self, name: str) -> Any:
        return getattr(self.tile, name)

    def __repr__(self) -> str:
        return f"Scalar({self.tile!r})"


def _tile(a: Any) -> Any:
    return a.tile if isinstance(a, Scalar) else a


def _elementwise(method: Any) -> Any:
    """A primitive that broadcasts its array operands: Scalars go in as their [1, 1]
    tiles and the result gets torch's broadcast shape back (() as a Scalar)."""

    @functools.wraps(method)
    def run(self: TTBackend, *args: Any, **kwargs: Any) -> Any:
        if not any(isinstance(a, Scalar) for a in args):
            return method(self, *args, **kwargs)
        shape = torch.broadcast_shapes(*(self.shape(a) for a in args
                                         if not isinstance(a, (int, float, str))))
        return self.reshape(method(self, *map(_tile, args), **kwargs), tuple(shape))

    return run


class TTBackend(AttentionOps, NormOps, LossOps, EmbeddingOps, OptimOps, LoRAOps, GroupedOps,
                Backend):
    """ttnn on an opened device or mesh (see `TTDevice`)."""

    name = "tt"
    default_float = torch.bfloat16

    def __init__(self, ttnn: ModuleType | None = None,
                 mesh_shape: tuple[int, int] | None = None) -> None:
        super().__init__()
        self.ttnn = ttnn if ttnn is not None else importlib.import_module("ttnn")
        self.device = TTDevice(self.ttnn, mesh_shape)
        T = self.ttnn
        self.kernel_config = T.WormholeComputeKernelConfig(
            math_fidelity=T.MathFidelity.HiFi4, math_approx_mode=False,
            fp32_dest_acc_en=True, packer_l1_acc=True,
        )
        self._to_tt = {torch.bfloat16: T.bfloat16, torch.float32: T.float32,
                       torch.int32: T.int32}
        self._to_torch = {T.bfloat16: torch.bfloat16, T.float32: torch.float32,
                          T.int32: torch.int32, T.uint32: torch.int32}
        #: device constants (causal masks, rotation matrices), made once per shape
        self._constants: dict[tuple, Array] = {}
        #: frozen linear weights' [in, out] copies, made once (no per-call transpose)
        self.frozen = FrozenLayouts(self._linear_layout)
        #: grouped_linear members' frozen weights laid out together (`GroupedOps`)
        self.frozen_groups = FrozenLayouts(self._group_layout)
        #: (id(source), kind) -> (source, derived): the last few `derived` results
        self._derived: OrderedDict[tuple, tuple[Array, Array]] = OrderedDict()

    def __repr__(self) -> str:
        return f"TTBackend(board={self.device.board!r}, mesh_shape={self.device.mesh_shape})"

    def __enter__(self) -> TTBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name, **self.device.describe(),
                "default_dtype": str(self.default_float).removeprefix("torch.")}

    def close(self) -> None:
        self._constants.clear()
        self._derived.clear()
        self.frozen.clear()
        self.frozen_groups.clear()
        self.device.close()

    def synchronize(self) -> None:
        self.device.synchronize()

    def compile_program(self, program: Any, compile: bool) -> Any:
        """A captured step replayed as a ttnn trace (`ttcustom.backends.tt.trace`)."""
        if not compile:
            return program.function
        from ttcustom.backends.tt.trace import TraceRunner

        return TraceRunner(self, program)

    # ----------------------------------------------------------------- data movement
    def tt_dtype(self, dtype: torch.dtype) -> Any:
        """The ttnn dtype storing `dtype`: bf16 or fp32 for floats, int32 for the rest."""
        if dtype == torch.bfloat16:
            return self.ttnn.bfloat16
        return self.ttnn.float32 if dtype.is_floating_point else self.ttnn.int32

    def upload(self, value: torch.Tensor, dtype: torch.dtype | None = None,
               shard_dim: int | None = None) -> Array:
        """`shard_dim` splits `value` along that dim over the mesh devices (data parallel)."""
        self.transfers.uploads += 1
        target = self.tt_dtype(dtype or value.dtype)
        host = value.detach()
        if target == self.ttnn.int32:
            host = host.to(torch.int32)
        elif host.dtype not in (torch.bfloat16, torch.float32):
            host = host.float()
        if host.dim() == 0:
            return Scalar(self.device.to_device(host.reshape(1, 1), target,
                                                self.ttnn.TILE_LAYOUT))
        return self.device.to_device(host.contiguous(), target, self.ttnn.TILE_LAYOUT, shard_dim)

    def download(self, a: Array) -> torch.Tensor:
        self.transfers.downloads += 1
        return self.device.to_host(_tile(a)).to(self.dtype(a)).reshape(self.shape(a))

    def shape(self, a: Array) -> Shape:
        return () if isinstance(a, Scalar) else tuple(a.shape)

    def storage_id(self, a: Array) -> int:
        return id(_tile(a))

    def dtype(self, a: Array) -> torch.dtype:
        return self._to_torch[a.dtype]

    def cast(self, a: Array, dtype: torch.dtype) -> Array:
        target = self.tt_dtype(dtype)
        if a.dtype == target:
            return a
        out = self.ttnn.typecast(_tile(a), target)
        return Scalar(out) if isinstance(a, Scalar) else out

    def full(self, shape: Shape, value: float, dtype: torch.dtype) -> Array:
        T = self.ttnn
        fill = float(value) if dtype.is_floating_point else int(value)
        out = T.full(list(shape) or [1, 1], fill, self.tt_dtype(dtype), T.TILE_LAYOUT,
                     self.device.mesh, T.DRAM_MEMORY_CONFIG)
        return out if shape else Scalar(out)

    def empty(self, shape: Shape, like: Array) -> Array:
        """Uninitialised device memory for a kernel's preallocated output."""
        T = self.ttnn
        return T.empty(list(shape), like.dtype, T.TILE_LAYOUT, self.device.mesh,
                       T.DRAM_MEMORY_CONFIG)

    # ------------------------------------------------------------------ elementwise
    def _operand(self, a: Array, b: Array | float) -> Array | float:
        """`b` in `a`'s dtype (ttnn binary kernels take one input dtype)."""
        if isinstance(b, (int, float)) or b.dtype == a.dtype:
            return b
        return self.ttnn.typecast(b, a.dtype)

    @_elementwise
    def add(self, a, b):
        return self.ttnn.add(a, self._operand(a, b))

    @_elementwise
    def sub(self, a, b):
        return self.ttnn.subtract(a, self._operand(a, b))

    @_elementwise
    def mul(self, a, b):
        return self.ttnn.multiply(a, self._operand(a, b))

    @_elementwise
    def div(self, a, b):
        return self.ttnn.divide(a, self._operand(a, b))

    @_elementwise
    def neg(self, a):
        return self.ttnn.neg(a)

    @_elementwise
    def exp(self, a):
        return self.ttnn.exp(a)

    @_elementwise
    def log(self, a):
        return self.ttnn.log(a)

    @_elementwise
    def pow(self, a, exponent):
        return self.ttnn.pow(a, float(exponent))

    @_elementwise
    def tanh(self, a):
        return self.ttnn.tanh(a)

    @_elementwise
    def clamp(self, a, min=None, max=None):
        return self.ttnn.clamp(a, min=min, max=max)

    @_elementwise
    def silu(self, a):
        return self.ttnn.silu(a)

    @_elementwise
    def silu_backward(self, grad, a):
        return self.ttnn.silu_bw(grad, a)[0]

    def _gelu_variant(self, approximate: str) -> Any:
        variants = self.ttnn.GeluVariant
        return variants.Tanh if approximate == "tanh" else variants.Accurate

    @_elementwise
    def gelu(self, a, approximate="none"):
        return self.ttnn.gelu(a, variant=self._gelu_variant(approximate))

    @_elementwise
    def gelu_backward(self, grad, a, approximate="none"):
        return self.ttnn.gelu_bw(grad, a, variant=self._gelu_variant(approximate))[0]

    def sum_to_shape(self, a, shape):
        source = self.shape(a)
        if source == tuple(shape):
            return a
        lead = len(source) - len(shape)
        dims = list(range(lead)) + [
            lead + i for i, n in enumerate(shape) if n == 1 and source[lead + i] != 1
        ]
        return self.reshape(self._sum(a, dims, keepdim=True), shape)

    # ------------------------------------------------------------------ shape ops
    def reshape(self, a, shape):
        """Shape () gives a Scalar (one [1, 1] tile): ttnn does not reshape to rank 0."""
        source = self.shape(a)
        shape = resolve_shape(source, shape)
        if source == shape:
            return a
        tile = _tile(a)
        target = shape or (1, 1)
        out = tile if tuple(tile.shape) == target else self.ttnn.reshape(tile, list(target))
        return out if shape else Scalar(out)

    def permute(self, a, dims):
        dims = list(dims)
        return a if dims == sorted(dims) else self.ttnn.permute(a, dims)

    def slice(self, a, index):
        plan = plan_index(self.shape(a), index)
        out = a
        if not plan.is_full:
            out = self.ttnn.slice(a, plan.starts, plan.ends, plan.steps)
        return self.reshape(out, plan.out_shape)

    def slice_backward(self, grad, shape, index):
        plan = plan_index(shape, index)
        grad = self.reshape(grad, plan.kept_shape)
        for dim, step in enumerate(plan.steps):
            if step > 1:
                grad = self._spread(grad, dim, step)
        sizes = self.shape(grad)
        padding = [(start, total - start - size)
                   for start, size, total in zip(plan.starts, sizes, shape)]
        if any(after < 0 for _, after in padding):  # a strided slice's last gap overshoots
            grad = self.ttnn.slice(grad, [0] * len(shape),
                                   [size + min(after, 0) for size, (_, after) in zip(sizes, padding)],
                                   [1] * len(shape))
            padding = [(before, max(after, 0)) for before, after in padding]
        return self._pad(grad, padding, 0.0)

    def _spread(self, a: Array, dim: int, step: int) -> Array:
        """Place the rows of `a` along `dim` `step` apart, zeros in between."""
        shape = self.shape(a)
        tall = shape[: dim + 1] + (1,) + shape[dim + 1:]
        padding = [(0, 0)] * len(tall)
        padding[dim + 1] = (0, step - 1)
        spread = self._pad(self.reshape(a, tall), padding, 0.0)
        return self.reshape(spread, shape[:dim] + (shape[dim] * step,) + shape[dim + 1:])

    def _pad(self, a: Array, padding: Sequence[tuple[int, int]], value: float) -> Array:
        """torch-style constant padding of the logical shape.

        Done in ROW_MAJOR layout: there ttnn.pad pads the logical shape (front too); on
        a TILE tensor it pads the tile-padded shape, by whole tiles, at the end only.
        """
        T = self.ttnn
        padding = [tuple(p) for p in padding]
        if all(p == (0, 0) for p in padding):
            return a
        rows = T.pad(T.to_layout(a, T.ROW_MAJOR_LAYOUT), padding, value)
        return T.to_layout(rows, T.TILE_LAYOUT)

    def pad_to_tile(self, a: Array, dims: Sequence[int], value: float) -> Array:
        """`a` extended along `dims` to a multiple of 32 with `value` (a mask or a neutral)."""
        shape = self.shape(a)
        padding = [(0, 0)] * len(shape)
        for d in dims:
            padding[d] = (0, -shape[d] % TILE)
        return self._pad(a, padding, value)

    def crop(self, a: Array, shape: Shape) -> Array:
        """The leading `shape` block of `a` (undoes `pad_to_tile`)."""
        if self.shape(a) == tuple(shape):
            return a
        return self.ttnn.slice(a, [0] * len(shape), list(shape), [1] * len(shape))

    def concat(self, arrays, dim):
        arrays = list(arrays)
        return arrays[0] if len(arrays) == 1 else self.ttnn.concat(arrays, dim)

    # ------------------------------------------------------------------ reductions
    def _sum(self, a: Array, dims: Sequence[int] | None, keepdim: bool) -> Array:
        shape = self.shape(a)
        dims = list(range(len(shape))) if dims is None else [d % len(shape) for d in dims]
        if not dims:
            return a
        # keepdim: a full reduction stays a tile (no rank-0 result); reshaped below
        if self.dtype(a) == torch.float32:  # moreh_sum takes bfloat16/int32 only
            out = self.ttnn.sum(a, dims, True, compute_kernel_config=self.kernel_config)
        else:
            # a partial reduction drops its dims in the kernel (no reshape after it)
            drop = not keepdim and len(dims) < len(shape)
            out = self.ttnn.moreh_sum(a, dims, keepdim=not drop,
                                      compute_kernel_config=self.kernel_config)
        kept = tuple(1 if i in dims else n for i, n in enumerate(shape))
        return self.reshape(out, kept if keepdim else tuple(n for i, n in enumerate(shape)
                                                            if i not in dims))

    def sum(self, a, dims, keepdim=False):
        return self._sum(a, dims, keepdim)

    def expand(self, a, shape):
        source = self.shape(a)
        if source == tuple(shape):
            return a
        if len(source) < len(shape):  # torch's leading broadcast dims, made explicit
            a = self.reshape(a, (1,) * (len(shape) - len(source)) + source)
        return self.ttnn.expand(a, list(shape))

    def mean_last(self, a: Array) -> Array:
        """Mean over the last dim, kept as a trailing 1 (ttnn.mean ignores tile padding)."""
        return self.ttnn.mean(a, -1, True, compute_kernel_config=self.kernel_config)

    def logsumexp_last(self, a: Array) -> Array:
        """log(sum(exp(a))) over the last dim, stabilised by the row max; keeps the dim."""
        T = self.ttnn
        top = T.max(a, -1, True)
        total = self._sum(T.exp(T.subtract(a, top)), [-1], keepdim=True)
        return T.add(T.log(total), top)

    # ------------------------------------------------------------------ matmul
    def _contractable(self, a: Array, dim: int) -> Array:
        """Zero the tile padding of `a` when a matmul sums over its unaligned dim `dim`."""
        if self.shape(a)[dim] % TILE == 0:
            return a
        return self.ttnn.fill_implicit_tile_padding(a, 0.0)

    def matmul(self, a, b, transpose_a=False, transpose_b=False, dtype=None):
        a, b = broadcast_batch(self, a, b)
        a = self._contractable(a, -2 if transpose_a else -1)
        b = self._contractable(b, -1 if transpose_b else -2)
        extra = {"dtype": self.tt_dtype(dtype)} if dtype is not None else {}
        return self.ttnn.matmul(a, b, transpose_a=transpose_a, transpose_b=transpose_b,
                                compute_kernel_config=self.kernel_config, **extra)

    def matmul_into(self, into: Array | None, a: Array, b: Array) -> Array:
        """into + a @ b: one `ttnn.addmm` for 2-d operands (its only rank), else a matmul
        and an add; a @ b without `into`."""
        if into is None:
            return self.matmul(a, b)
        if len(self.shape(a)) != 2 or len(self.shape(b)) != 2:
            return self.add(into, self.matmul(a, b))
        return self.ttnn.addmm(into, self._contractable(a, -1), self._contractable(b, -2),
                               compute_kernel_config=self.kernel_config)

    def linear(self, x, weight, bias):
        """A held frozen weight (`hold_frozen`) goes in as its [in, out] copy; any
        other with transpose_b."""
        x = self._contractable(x, -1)
        if bias is not None:
            bias = self.reshape(bias, (1, self.shape(bias)[0]))
        laid_out = self.frozen.get(weight)
        if laid_out is not None:
            return self.ttnn.linear(x, laid_out, bias=bias,
                                    compute_kernel_config=self.kernel_config)
        weight = self._contractable(weight, -1)
        return self.ttnn.linear(x, weight, bias=bias, transpose_b=True,
                                compute_kernel_config=self.kernel_config)

    def hold_frozen(self, weight):
        self.frozen.hold(weight)

    def _linear_layout(self, weight: Array) -> Array:
        """weight [out, in] as [in, out], tile padding zeroed for the contraction."""
        return self._contractable(self.ttnn.transpose(self._contractable(weight, -1), -2, -1),
                                  -2)

    def linear_backward(self, grad, x, weight, need, into=None):
        out_features, in_features = self.shape(weight)
        dx = self.matmul_into(into, grad, weight) if need[0] else None
        if not (need[1] or need[2]):  # a frozen layer: no weight or bias gradient
            return dx, None, None
        grad2d = self.reshape(grad, (-1, out_features))
        dw = None
        if need[1]:
            dw = self.matmul(grad2d, self.reshape(x, (-1, in_features)), transpose_a=True)
        db = self._sum(grad2d, [0], keepdim=False) if need[2] else None
        return dx, dw, db

    # ------------------------------------------------------------------ random, cached
    def dropout_mask(self, shape, p, seed, dtype):
        T = self.ttnn
        uniform = T.rand(list(shape), self.device.mesh, dtype=self.tt_dtype(dtype),
                         layout=T.TILE_LAYOUT, low=0.0, high=1.0, seed=seed % (2**31 - 1) + 1)
        return T.multiply(T.ge(uniform, p), 1.0 / (1.0 - p))

    def derived(self, source: Array, kind: tuple, make: Any) -> Array:
        """`make()`, an array computed from `source` alone, reused while `source` is the
        same array and unwritten (the last DERIVED_KEPT are kept, their sources held, so
        an id is never reused while its entry lives)."""
        key = (id(source), kind)
        held = self._derived.get(key)
        if held is not None and held[0] is source:
            self._derived.move_to_end(key)
            return held[1]
        self._derived[key] = (source, make())
        if len(self._derived) > DERIVED_KEPT:
            self._derived.popitem(last=False)
        return self._derived[key][1]

    def _written(self, array: Array) -> None:
        """`array` is written in place: copies made from it are stale."""
        self.frozen.forget(array)
        self.frozen_groups.forget(array)
        for key in [k for k, (source, _) in self._derived.items() if source is array]:
            del self._derived[key]

    def constant(self, key: tuple, make: Any) -> Array:
        """A device constant built once per `key` by `make()` and kept until close()."""
        if key not in self._constants:
            self._constants[key] = make()
        return self._constants[key]

    def copy_(self, dst, src):
        self._written(dst)
        self.ttnn.copy(_tile(src), _tile(dst))

    # ------------------------------------------------------------------ device mesh
    @property
    def num_devices(self) -> int:
        return self.device.num_devices

    def all_reduce(self, a: Array) -> Array:
        """The sum of `a` over every mesh device, on each of them (CCL, rank >= 2 inputs)."""
        shape = self.shape(a)
        lifted = self.reshape(a, (1,) * (2 - len(shape)) + shape)
        summed = self.ttnn.all_reduce(lifted, memory_config=self.ttnn.DRAM_MEMORY_CONFIG)
        return self.reshape(summed, shape)


__all__ = ["TTBackend"]
