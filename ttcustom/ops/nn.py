"""Neural-network ops with fused forward and backward primitives."""

from __future__ import annotations

from ttcustom.autograd.function import Function, is_grad_enabled


class Embedding(Function):
    @staticmethod
    def forward(ctx, ids, weight):
        ctx.save_for_backward(ids, weight)
        return ctx.backend.embedding(ids, weight)

    @staticmethod
    def backward(ctx, grad):
        ids, weight = ctx.saved
        return None, ctx.backend.embedding_backward(grad, ids, weight)


class RMSNorm(Function):
    @staticmethod
    def forward(ctx, x, weight, eps):
        y, rstd = ctx.backend.rms_norm(x, weight, eps)
        ctx.save_for_backward(x, weight, rstd)
        return y

    @staticmethod
    def backward(ctx, grad):
        x, weight, rstd = ctx.saved
        dx, dw = ctx.backend.rms_norm_backward(grad, x, weight, rstd, ctx.needs_input_grad[1])
        return dx, dw, None


class LayerNorm(Function):
    @staticmethod
    def forward(ctx, x, weight, bias, eps):
        y, mean, rstd = ctx.backend.layer_norm(x, weight, bias, eps)
        ctx.save_for_backward(x, weight, mean, rstd)
        return y

    @staticmethod
    def backward(ctx, grad):
        x, weight, mean, rstd = ctx.saved
        dx, dw, db = ctx.backend.layer_norm_backward(grad, x, weight, mean, rstd)
        return dx, dw, db, None


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


class Rotary(Function):
    """HF-convention rotary embedding; cos/sin are constants (no gradient)."""

    @staticmethod
    def forward(ctx, x, cos, sin):
        ctx.save_for_backward(cos, sin)
        return ctx.backend.rotary(x, cos, sin)

    @staticmethod
    def backward(ctx, grad):
        b = ctx.backend
        cos, sin = ctx.saved
        return b.rotary(grad, cos, b.neg(sin)), None, None


class ScaledDotProductAttention(Function):
    @staticmethod
    def forward(ctx, q, k, v, mask, is_causal, scale):
        ctx.is_causal, ctx.scale = is_causal, scale
        need_lse = is_grad_enabled() and any(ctx.needs_input_grad[:3])
        out, lse = ctx.backend.sdpa(q, k, v, mask, is_causal, scale, need_logsumexp=need_lse)
        ctx.save_for_backward(q, k, v, out, lse, mask)
        return out

    @staticmethod
    def backward(ctx, grad):
        q, k, v, out, lse, mask = ctx.saved
        dq, dk, dv = ctx.backend.sdpa_backward(
            grad, q, k, v, out, lse, mask, ctx.is_causal, ctx.scale
        )
        return dq, dk, dv, None, None, None


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
