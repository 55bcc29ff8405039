"""Shape ops: reshape, permute, basic slicing, concat, reductions."""

from __future__ import annotations

import math

from ttcustom.autograd.function import Function


class Reshape(Function):
    @staticmethod
    def forward(ctx, a, shape):
        ctx.source_shape = ctx.backend.shape(a)
        return ctx.backend.reshape(a, shape)

    @staticmethod
    def backward(ctx, grad):
        return ctx.backend.reshape(grad, ctx.source_shape), None


class Permute(Function):
    @staticmethod
    def forward(ctx, a, dims):
        ctx.dims = dims
        return ctx.backend.permute(a, dims)

    @staticmethod
    def backward(ctx, grad):
        inverse = [0] * len(ctx.dims)
        for position, dim in enumerate(ctx.dims):
            inverse[dim] = position
        return ctx.backend.permute(grad, inverse), None


class Slice(Function):
    @staticmethod
    def forward(ctx, a, index):
        ctx.index = index
        ctx.source_shape = ctx.backend.shape(a)
        return ctx.backend.slice(a, index)

    @staticmethod
    def backward(ctx, grad):
        return ctx.backend.slice_backward(grad, ctx.source_shape, ctx.index), None


class Concat(Function):
    """Concatenation of a fixed number of arrays (passed positionally) along `dim`."""

    @staticmethod
    def forward(ctx, *arrays, dim):
        ctx.dim = dim
        ctx.sizes = [ctx.backend.shape(a)[dim] for a in arrays]
        return ctx.backend.concat(arrays, dim)

    @staticmethod
    def backward(ctx, grad):
        b = ctx.backend
        ndim = len(b.shape(grad))
        dim = ctx.dim % ndim
        grads, start = [], 0
        for size, need in zip(ctx.sizes, ctx.needs_input_grad):
            index = (slice(None),) * dim + (slice(start, start + size),)
            grads.append(b.slice(grad, index) if need else None)
            start += size
        return tuple(grads)


class Sum(Function):
    @staticmethod
    def forward(ctx, a, dims, keepdim):
        b = ctx.backend
        ctx.source_shape = b.shape(a)
        ctx.kept_shape = tuple(
            1 if dims is None or i in dims else n for i, n in enumerate(ctx.source_shape)
        )
        return b.sum(a, dims, keepdim)

    @staticmethod
    def backward(ctx, grad):
        b = ctx.backend
        grad = b.reshape(grad, ctx.kept_shape)
        return b.expand(grad, ctx.source_shape), None, None


def reduced_count(shape: tuple[int, ...], dims: tuple[int, ...] | None) -> int:
    """How many elements a reduction over `dims` of `shape` combines."""
    return math.prod(shape) if dims is None else math.prod(shape[d] for d in dims)
