"""tt optimizer steps and gradient norms (`OptimOps`): moreh's fused bfloat16 kernels,
float32 compositions of ttnn ops (moreh's kernels take bfloat16 only)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

Array = Any


class OptimOps:
    """TTBackend's optimizer-step and gradient-norm primitives."""

    def adamw_step(self, params, grads, exp_avgs, exp_avg_sqs, step, lr, beta1, beta2, eps,
                   weight_decay):
        """moreh_adamw for bfloat16 state (its dtypes); float32 state (master weights,
        float32 models) through `adamw_float32`, in full precision."""
        for param, grad, exp_avg, exp_avg_sq in zip(params, grads, exp_avgs, exp_avg_sqs):
            self._written(param)
            if param.dtype != self.ttnn.bfloat16:
                adamw_float32(self, param, grad, exp_avg, exp_avg_sq, step, lr, beta1, beta2,
                                eps, weight_decay)
                continue
            self.ttnn.moreh_adamw(
                param, grad, exp_avg, exp_avg_sq, lr=lr, beta1=beta1, beta2=beta2, eps=eps,
                weight_decay=weight_decay, step=step, amsgrad=False, param_out=param,
                exp_avg_out=exp_avg, exp_avg_sq_out=exp_avg_sq,
                compute_kernel_config=self.kernel_config,
            )

    def sgd_step(self, params, grads, momentum_buffers, lr, momentum, dampening, nesterov,
                 weight_decay):
        """moreh_sgd for bfloat16 (its dtypes); `sgd_float32` for float32."""
        buffers = []
        for param, grad, buffer in zip(params, grads, momentum_buffers):
            self._written(param)
            if param.dtype != self.ttnn.bfloat16:
                buffers.append(sgd_float32(self, param, grad, buffer, lr, momentum, dampening,
                                             nesterov, weight_decay))
                continue
            buffer_out = buffer
            if momentum != 0 and buffer is None:
                buffer_out = self.empty(self.shape(param), param)
            self.ttnn.moreh_sgd(
                param, grad, buffer, param_out=param, momentum_buffer_out=buffer_out, lr=lr,
                momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                nesterov=nesterov, momentum_initialized=buffer is not None,
                compute_kernel_config=self.kernel_config,
            )
            buffers.append(buffer_out)
        return buffers

    def global_norm(self, arrays, norm_type):
        return global_norm(self, arrays, norm_type)

    def scale_(self, arrays, factor):
        for a in arrays:
            self._written(a)
            scale = self.reshape(self.cast(factor, self.dtype(a)), (1,) * len(self.shape(a)))
            self.ttnn.multiply_(a, scale)


def adamw_float32(bk, param: Array, grad: Array, exp_avg: Array, exp_avg_sq: Array, step: int,
                  lr: float, beta1: float, beta2: float, eps: float, weight_decay: float) -> None:
    """One AdamW step on float32 param and state, written in place (torch.optim.AdamW's
    formula). moreh_adamw takes bfloat16 only; this is ttml's AdamWFullPrecision as
    ttnn ops that accept float32."""
    T = bk.ttnn
    m = T.add(T.multiply(exp_avg, beta1), T.multiply(grad, 1.0 - beta1))
    v = T.add(T.multiply(exp_avg_sq, beta2), T.multiply(T.multiply(grad, grad), 1.0 - beta2))
    denom = T.add(T.divide(T.sqrt(v), math.sqrt(1.0 - beta2**step)), eps)
    decayed = T.multiply(param, 1.0 - lr * weight_decay) if weight_decay else param
    updated = T.subtract(decayed, T.multiply(T.divide(m, denom), lr / (1.0 - beta1**step)))
    for target, value in ((exp_avg, m), (exp_avg_sq, v), (param, updated)):
        bk.copy_(target, value)


def sgd_float32(bk, param: Array, grad: Array, buffer: Array | None, lr: float, momentum: float,
                dampening: float, nesterov: bool, weight_decay: float) -> Array | None:
    """One SGD step on a float32 param in place (torch.optim.SGD's formula; moreh_sgd
    takes bfloat16 only); returns the momentum buffer (new on the first step)."""
    T = bk.ttnn
    g = T.add(grad, T.multiply(param, weight_decay)) if weight_decay else grad
    if momentum:
        if buffer is None:
            buffer = T.clone(g)
        else:
            bk.copy_(buffer, T.add(T.multiply(buffer, momentum), T.multiply(g, 1.0 - dampening)))
        g = T.add(g, T.multiply(buffer, momentum)) if nesterov else buffer
    bk.copy_(param, T.subtract(param, T.multiply(g, lr)))
    return buffer


def global_norm(bk, arrays: Sequence[Array], norm_type: float) -> Array:
    """The `norm_type`-norm of all `arrays` together, accumulated in float32.

    Each array gives sum(|a|^p) (max |a| for inf) as one [1, 1] tile through ttnn.sum /
    ttnn.max, which take float32 (moreh_norm is bfloat16-only); the tiles are added (no
    concat of unaligned scalars) and the p-th root taken once.
    """
    T = bk.ttnn
    infinite = math.isinf(norm_type)
    total = None
    for a in arrays:
        x = T.abs(bk.cast(a, torch.float32))
        dims = list(range(len(bk.shape(x))))
        if infinite:
            part = T.max(x, dims, True)
        else:
            powered = T.multiply(x, x) if norm_type == 2 else T.pow(x, float(norm_type))
            part = bk.sum(powered, dims, keepdim=True)
        part = bk.reshape(part, (1, 1))
        if total is None:
            total = part
        else:
            total = T.maximum(total, part) if infinite else T.add(total, part)
    if not infinite and norm_type != 1:
        total = T.sqrt(total) if norm_type == 2 else T.pow(total, 1.0 / norm_type)
    return bk.reshape(total, ())
