"""Matrix products."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ttcustom.autograd.function import Function

if TYPE_CHECKING:
    from ttcustom.autograd.tensor import Tensor


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

    accumulates = (0,)  # d x joins a shared input's gradient in one addmm

    @staticmethod
    def forward(ctx, x, weight, bias):
        # x is needed only for d weight: a frozen layer (LoRA base) must not keep its
        # input alive, as torch's autograd does not.
        ctx.save_for_backward(x if ctx.needs_input_grad[1] else None, weight)
        return ctx.backend.linear(x, weight, bias)

    @staticmethod
    def backward(ctx, grad, into):
        x, weight = ctx.saved
        return ctx.backend.linear_backward(grad, x, weight, ctx.needs_input_grad, into=into[0])


class LoRALinear(Function):
    """x W^T + b + (lora_x A^T * scaling) B^T in one node, lora_x = dropout(x) or x.

    Leading dims of x are flattened for the backend's 2-d primitives (`lora_linear`) and
    restored; only the arrays the needed gradients read are kept.
    """

    accumulates = (0,)  # d x joins a shared input's gradient in the backend's kernels

    @staticmethod
    def forward(ctx, x, weight, bias, lora_A, lora_B, scaling, lora_x):
        bk = ctx.backend
        need = ctx.needs_input_grad
        ctx.shape, ctx.scaling = bk.shape(x), scaling
        x2, h2 = _rows(bk, x), None if lora_x is None else _rows(bk, lora_x)
        y, saved = bk.lora_linear(x2, weight, bias, lora_A, lora_B, scaling, h2)
        keep_x = need[1] or (need[3] and lora_x is None)
        lora_grads = need[0] or need[3] or need[4] or need[6]
        ctx.save_for_backward(x2 if keep_x else None, weight, lora_A, lora_B,
                              saved if lora_grads else None, h2)
        return bk.reshape(y, (*ctx.shape[:-1], bk.shape(weight)[0]))

    @staticmethod
    def backward(ctx, grad, into):
        bk = ctx.backend
        x2, weight, lora_A, lora_B, saved, h2 = ctx.saved
        need = ctx.needs_input_grad
        into_x = None if into[0] is None else _rows(bk, into[0])
        dx, dw, db, da, d_b, dh = bk.lora_linear_backward(
            _rows(bk, grad), x2, weight, lora_A, lora_B, ctx.scaling, saved, h2,
            (*need[:5], need[6]), into=into_x)
        dx, dh = (None if d is None else bk.reshape(d, ctx.shape) for d in (dx, dh))
        return dx, dw, db, da, d_b, None, dh


def _rows(bk, a):
    """`a` as 2-d [rows, features] (itself when it is 2-d)."""
    shape = bk.shape(a)
    return a if len(shape) == 2 else bk.reshape(a, (-1, shape[-1]))


@dataclass(frozen=True)
class LinearTerms:
    """One member of `grouped_linear`: a linear layer's operands for one input, with
    its LoRA terms when it has an adapter (`lora_input`: that adapter's dropout(input))."""

    weight: Tensor
    bias: Tensor | None = None
    lora_A: Tensor | None = None
    lora_B: Tensor | None = None
    scaling: float = 1.0
    lora_input: Tensor | None = None


class GroupedLinear(Function):
    """Projections of one input, concatenated on the last dim, in one node: member i is
    `linear` or, with LoRA terms, `lora_linear` (5 arrays each after x and the
    scalings: weight, bias, lora_A, lora_B, lora_x; the LoRA ones None for a plain linear).

    Leading dims of x are flattened for the backend's 2-d primitives (`grouped_linear`)."""

    accumulates = (0,)  # d x joins a shared input's gradient in the backend's kernels

    @staticmethod
    def forward(ctx, x, scalings, *arrays):
        bk = ctx.backend
        ctx.shape = bk.shape(x)
        members = _members(bk, arrays, scalings)
        x2 = _rows(bk, x)
        y, saved = bk.grouped_linear(x2, members)
        need = ctx.needs_input_grad[2:]
        keep_x = any(need[5 * i] or (need[5 * i + 2] and m[5] is None)
                     for i, m in enumerate(members))
        ctx.save_for_backward(x2 if keep_x else None, members, saved)
        out = sum(bk.shape(m[0])[0] for m in members)
        return bk.reshape(y, (*ctx.shape[:-1], out))

    @staticmethod
    def backward(ctx, grad, into):
        bk = ctx.backend
        x2, members, saved = ctx.saved
        need = ctx.needs_input_grad
        member_need = tuple(need[2 + 5 * i: 7 + 5 * i] for i in range(len(members)))
        into_x = None if into[0] is None else _rows(bk, into[0])
        dx, grads = bk.grouped_linear_backward(_rows(bk, grad), x2, members, saved,
                                               (need[0], member_need), into=into_x)
        flat = []
        for dw, db, da, d_b, dh in grads:
            flat += [dw, db, da, d_b, None if dh is None else bk.reshape(dh, ctx.shape)]
        dx = None if dx is None else bk.reshape(dx, ctx.shape)
        return (dx, None, *flat)


def _members(bk, arrays, scalings):
    """Per member (weight, bias, lora_A, lora_B, scaling, lora_x 2-d or None)."""
    return tuple((w, b, a, lb, s, None if h is None else _rows(bk, h))
                 for (w, b, a, lb, h), s in zip(zip(*[iter(arrays)] * 5), scalings))
