"""Elementwise ops with torch broadcasting; gradients are summed back to input shapes."""

from __future__ import annotations

import torch

from ttcustom.autograd.function import Function


def _shape(ctx, x):
    return ctx.backend.shape(x) if not isinstance(x, (int, float)) else None


class Add(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = (_shape(ctx, a), _shape(ctx, b))
        return ctx.backend.add(a, b)

    @staticmethod
    def backward(ctx, grad):
        b = ctx.backend
        return tuple(
            b.sum_to_shape(grad, s) if need else None
            for s, need in zip(ctx.shapes, ctx.needs_input_grad)
        )


class Sub(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = (_shape(ctx, a), _shape(ctx, b))
        return ctx.backend.sub(a, b)

    @staticmethod
    def backward(ctx, grad):
        b = ctx.backend
        ga = b.sum_to_shape(grad, ctx.shapes[0]) if ctx.needs_input_grad[0] else None
        gb = b.neg(b.sum_to_shape(grad, ctx.shapes[1])) if ctx.needs_input_grad[1] else None
        return ga, gb


class Mul(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = (_shape(ctx, a), _shape(ctx, b))
        ctx.save_for_backward(a, b)
        return ctx.backend.mul(a, b)

    @staticmethod
    def backward(ctx, grad):
        bk = ctx.backend
        a, b = ctx.saved
        ga = bk.sum_to_shape(bk.mul(grad, b), ctx.shapes[0]) if ctx.needs_input_grad[0] else None
        gb = bk.sum_to_shape(bk.mul(grad, a), ctx.shapes[1]) if ctx.needs_input_grad[1] else None
        return ga, gb


class Div(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = (_shape(ctx, a), _shape(ctx, b))
        out = ctx.backend.div(a, b)
        ctx.save_for_backward(b, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        bk = ctx.backend
        b, out = ctx.saved
        grad_a = bk.div(grad, b)
        ga = bk.sum_to_shape(grad_a, ctx.shapes[0]) if ctx.needs_input_grad[0] else None
        gb = None
        if ctx.needs_input_grad[1]:
            gb = bk.sum_to_shape(bk.neg(bk.mul(grad_a, out)), ctx.shapes[1])
        return ga, gb


class Neg(Function):
    @staticmethod
    def forward(ctx, a):
        return ctx.backend.neg(a)

    @staticmethod
    def backward(ctx, grad):
        return ctx.backend.neg(grad)


class Exp(Function):
    @staticmethod
    def forward(ctx, a):
        out = ctx.backend.exp(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        return ctx.backend.mul(grad, ctx.saved[0])


class Log(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return ctx.backend.log(a)

    @staticmethod
    def backward(ctx, grad):
        return ctx.backend.div(grad, ctx.saved[0])


class Pow(Function):
    @staticmethod
    def forward(ctx, a, exponent):
        ctx.exponent = exponent
        ctx.save_for_backward(a)
        return ctx.backend.pow(a, exponent)

    @staticmethod
    def backward(ctx, grad):
        b = ctx.backend
        local = b.mul(b.pow(ctx.saved[0], ctx.exponent - 1.0), ctx.exponent)
        return b.mul(grad, local), None


class Tanh(Function):
    @staticmethod
    def forward(ctx, a):
        out = ctx.backend.tanh(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        b = ctx.backend
        out = ctx.saved[0]
        return b.mul(grad, b.neg(b.sub(b.mul(out, out), 1.0)))  # grad * (1 - tanh^2)


class Silu(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return ctx.backend.silu(a)

    @staticmethod
    def backward(ctx, grad):
        return ctx.backend.silu_backward(grad, ctx.saved[0])


class Gelu(Function):
    @staticmethod
    def forward(ctx, a, approximate):
        ctx.approximate = approximate
        ctx.save_for_backward(a)
        return ctx.backend.gelu(a, approximate)

    @staticmethod
    def backward(ctx, grad):
        return ctx.backend.gelu_backward(grad, ctx.saved[0], ctx.approximate), None


class SwiGLU(Function):
    """silu(gate) * up; keeps silu(gate) for d up, as torch's two ops do."""

    @staticmethod
    def forward(ctx, gate, up):
        b = ctx.backend
        activated = b.silu(gate)
        ctx.save_for_backward(gate, up, activated)
        return b.mul(activated, up)

    @staticmethod
    def backward(ctx, grad):
        b = ctx.backend
        gate, up, activated = ctx.saved
        d_gate = b.silu_backward(b.mul(grad, up), gate) if ctx.needs_input_grad[0] else None
        d_up = b.mul(grad, activated) if ctx.needs_input_grad[1] else None
        return d_gate, d_up


class Cast(Function):
    @staticmethod
    def forward(ctx, a, dtype: torch.dtype):
        ctx.source_dtype = ctx.backend.dtype(a)
        return ctx.backend.cast(a, dtype)

    @staticmethod
    def backward(ctx, grad):
        return ctx.backend.cast(grad, ctx.source_dtype), None
