"""Matrix products."""

from __future__ import annotations

from ttcustom.autograd.function import Function


class Matmul(Function):
    """Batched a @ b with torch broadcasting of the batch dims."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return ctx.backend.matmul(a, b)

    @staticmethod
    def backward(ctx, grad):
        bk = ctx.backend
        a, b = ctx.saved
        ga = gb = None
        if ctx.needs_input_grad[0]:
            ga = bk.sum_to_shape(bk.matmul(grad, b, transpose_b=True), bk.shape(a))
        if ctx.needs_input_grad[1]:
            gb = bk.sum_to_shape(bk.matmul(a, grad, transpose_a=True), bk.shape(b))
        return ga, gb


class Linear(Function):
    """x @ weight.T + bias, weight [out_features, in_features] as in torch."""

    @staticmethod
    def forward(ctx, x, weight, bias):
        # x is needed only for d weight: a frozen layer (LoRA base) must not keep its
        # input alive, as torch's autograd does not.
        ctx.save_for_backward(x if ctx.needs_input_grad[1] else None, weight)
        return ctx.backend.linear(x, weight, bias)

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved
        return ctx.backend.linear_backward(grad, x, weight, ctx.needs_input_grad)
