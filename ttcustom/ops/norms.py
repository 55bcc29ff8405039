"""RMSNorm and LayerNorm: fused forward and backward primitives."""

from __future__ import annotations

from ttcustom.autograd.function import Function


class RMSNorm(Function):
    accumulates = (0,)  # dx joins the residual stream's gradient

    @staticmethod
    def forward(ctx, x, weight, eps):
        y, rstd = ctx.backend.rms_norm(x, weight, eps)
        ctx.save_for_backward(x, weight, rstd)
        return y

    @staticmethod
    def backward(ctx, grad, into):
        x, weight, rstd = ctx.saved
        dx, dw = ctx.backend.rms_norm_backward(grad, x, weight, rstd, ctx.needs_input_grad[1],
                                               into=into[0])
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
