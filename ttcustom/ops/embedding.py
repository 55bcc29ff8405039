"""Embedding lookup: forward and backward primitives."""

from __future__ import annotations

from ttcustom.autograd.function import Function


class Embedding(Function):
    @staticmethod
    def forward(ctx, ids, weight):
        ctx.save_for_backward(ids, weight)
        return ctx.backend.embedding(ids, weight)

    @staticmethod
    def backward(ctx, grad):
        ids, weight = ctx.saved
        return None, ctx.backend.embedding_backward(grad, ids, weight)
