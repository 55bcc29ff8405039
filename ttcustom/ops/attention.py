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


class QKVAttention(Function):
    """Attention on the fused q|k|v token stream [B * S, (H + 2 KV) * D], output merged
    back to [B * S, H * D]: heads split (`split_qkv_heads`), rotary on q and k (cos/sin
    None: none), `sdpa`, heads merged (`merge_heads`); the backward splits the gradient
    into heads, runs `sdpa_backward` and `rotary_backward`, and merges dq|dk|dv back into
    one fused gradient. cos, sin and mask are constants (no gradient)."""

    @staticmethod
    def forward(ctx, qkv, cos, sin, mask, batch, num_heads, num_kv_heads, is_causal, scale):
        b = ctx.backend
        q, k, v = b.split_qkv_heads(qkv, batch, num_heads, num_kv_heads)
        if cos is not None:
            q, k = b.rotary(q, cos, sin), b.rotary(k, cos, sin)
        need_lse = is_grad_enabled() and ctx.needs_input_grad[0]
        out, lse = b.sdpa(q, k, v, mask, is_causal, scale, need_logsumexp=need_lse)
        ctx.batch, ctx.num_heads, ctx.is_causal, ctx.scale = batch, num_heads, is_causal, scale
        ctx.save_for_backward(q, k, v, out, lse, mask, cos, sin)
        return b.merge_heads(out)

    @staticmethod
    def backward(ctx, grad):
        b = ctx.backend
        q, k, v, out, lse, mask, cos, sin = ctx.saved
        heads = b.split_heads(grad, ctx.batch, ctx.num_heads)
        dq, dk, dv = b.sdpa_backward(heads, q, k, v, out, lse, mask, ctx.is_causal, ctx.scale)
        if cos is not None:
            dq, dk = b.rotary_backward(dq, cos, sin), b.rotary_backward(dk, cos, sin)
        return (b.merge_heads(b.concat([dq, dk, dv], 1)),) + (None,) * 8
