"""Dropout: a backend random mask, kept for the backward."""

from __future__ import annotations

from ttcustom.autograd.function import Function


class Dropout(Function):
    @staticmethod
    def forward(ctx, x, p, seed):
        b = ctx.backend
        mask = b.dropout_mask(b.shape(x), p, seed, b.dtype(x))
        ctx.save_for_backward(mask)
        return b.mul(x, mask)

    @staticmethod
    def backward(ctx, grad):
        return ctx.backend.mul(grad, ctx.saved[0]), None, None
