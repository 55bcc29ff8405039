"""tt RMSNorm and LayerNorm, forward and backward (`NormOps`): fused kernels where ttnn
has them for the dtype, compositions of ttnn ops otherwise."""

from __future__ import annotations

from typing import Any

from ttcustom.backends.tt.arrays import is_bf16, sum_rows

Array = Any


class NormOps:
    """TTBackend's RMSNorm and LayerNorm primitives."""

    def rms_norm(self, x, weight, eps):
        T = self.ttnn
        rstd = T.rsqrt(self.mean_last(T.mac(x, x, eps)))  # mean(x * x + eps)
        y = T.rms_norm(x, epsilon=eps, weight=weight, compute_kernel_config=self.kernel_config)
        return y, rstd

    def rms_norm_backward(self, grad, x, weight, rstd, need_weight=True, into=None):
        return rms_norm_backward(self, grad, x, weight, rstd, need_weight, into)

    def layer_norm(self, x, weight, bias, eps):
        return layer_norm(self, x, weight, bias, eps)

    def layer_norm_backward(self, grad, x, weight, mean, rstd):
        return layer_norm_backward(self, grad, x, weight, mean, rstd)


def rms_norm_backward(bk, grad: Array, x: Array, weight: Array | None, rstd: Array,
                      need_weight: bool = True, into: Array | None = None):
    """dx = rstd * (g - x_hat * mean(g * x_hat)) (+ `into`, in the same kernel),
    g = grad * weight; dw = sum(grad * x_hat) (not for a frozen weight: `need_weight` False)."""
    T = bk.ttnn
    x_hat = T.multiply(x, rstd)
    g = T.multiply(grad, weight) if weight is not None else grad
    centred = T.addcmul(g, x_hat, bk.mean_last(T.multiply(g, x_hat)), value=-1.0)
    dx = T.multiply(rstd, centred) if into is None else T.addcmul(into, rstd, centred)
    dw = sum_rows(bk, T.multiply(grad, x_hat)) if weight is not None and need_weight else None
    return dx, dw


def layer_norm(bk, x: Array, weight: Array | None, bias: Array | None, eps: float):
    """(y, mean, rstd): moreh_layer_norm for bfloat16 (its only dtype), else composed."""
    T = bk.ttnn
    stats_shape = bk.shape(x)[:-1]  # moreh_layer_norm validates x.shape[:-normalized_dims]
    if is_bf16(bk, x):
        y, mean, rstd = T.moreh_layer_norm(
            x, 1, eps, weight, bias, mean=bk.empty(stats_shape, x),
            rstd=bk.empty(stats_shape, x), compute_kernel_config=bk.kernel_config,
        )
        return y, mean, rstd
    mean = bk.mean_last(x)
    centered = T.subtract(x, mean)
    rstd = T.rsqrt(T.add(bk.mean_last(T.multiply(centered, centered)), eps))
    y = T.multiply(centered, rstd)
    if weight is not None:
        y = T.multiply(y, weight)
    if bias is not None:
        y = T.add(y, bias)
    return y, mean, rstd


def layer_norm_backward(bk, grad: Array, x: Array, weight: Array | None, mean: Array,
                        rstd: Array):
    """(dx, dweight, dbias): moreh_layer_norm_backward for bfloat16, else composed."""
    T = bk.ttnn
    width = bk.shape(x)[-1]
    if is_bf16(bk, x):
        params = weight is not None
        return tuple(T.moreh_layer_norm_backward(
            grad, x, mean, rstd, 1, gamma=weight, input_grad=bk.empty(bk.shape(x), x),
            gamma_grad=bk.empty((width,), x) if params else None,
            beta_grad=bk.empty((width,), x) if params else None,
            compute_kernel_config=bk.kernel_config,
        ))
    x_hat = T.multiply(T.subtract(x, mean), rstd)
    g = T.multiply(grad, weight) if weight is not None else grad
    inner = T.add(bk.mean_last(g), T.multiply(x_hat, bk.mean_last(T.multiply(g, x_hat))))
    dx = T.multiply(rstd, T.subtract(g, inner))
    if weight is None:
        return dx, None, None
    return dx, sum_rows(bk, T.multiply(grad, x_hat)), sum_rows(bk, grad)
