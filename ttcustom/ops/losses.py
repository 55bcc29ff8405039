"""Softmax, log-softmax and cross entropy: fused forward and backward primitives."""

from __future__ import annotations

from ttcustom.autograd.function import Function


class _NormalizedExp(Function):
    """softmax / log_softmax: the backward needs only the output, saved once."""

    primitive = ""

    @classmethod
    def forward(cls, ctx, x, dim):
        ctx.dim = dim
        y = getattr(ctx.backend, cls.primitive)(x, dim)
        ctx.save_for_backward(y)
        return y

    @classmethod
    def backward(cls, ctx, grad):
        backward = getattr(ctx.backend, f"{cls.primitive}_backward")
        return backward(grad, ctx.saved[0], ctx.dim), None


class Softmax(_NormalizedExp):
    primitive = "softmax"


class LogSoftmax(_NormalizedExp):
    primitive = "log_softmax"


class CrossEntropy(Function):
    @staticmethod
    def forward(ctx, logits, target, ignore_index, reduction):
        ctx.ignore_index, ctx.reduction = ignore_index, reduction
        loss, lse = ctx.backend.cross_entropy(logits, target, ignore_index, reduction)
        ctx.save_for_backward(logits, target, lse)
        return loss

    @staticmethod
    def backward(ctx, grad):
        logits, target, lse = ctx.saved
        dlogits = ctx.backend.cross_entropy_backward(
            grad, logits, target, lse, ctx.ignore_index, ctx.reduction
        )
        return dlogits, None, None, None
