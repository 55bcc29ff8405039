"""Scaled dot-product attention and rotary embedding: fused forward and backward
primitives."""

from __future__ import annotations

from ttcustom.autograd.function import Function, is_grad_enabled


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


class Rotary(Function):
    """HF-convention rotary embedding; cos/sin are constants (no gradient)."""

    @staticmethod
    def forward(ctx, x, cos, sin):
        ctx.save_for_backward(cos, sin)
        return ctx.backend.rotary(x, cos, sin)

    @staticmethod
    def backward(ctx, grad):
        cos, sin = ctx.saved
        return ctx.backend.rotary_backward(grad, cos, sin), None, None
