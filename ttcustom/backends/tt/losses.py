"""tt softmax, log-softmax and cross entropy, forward and backward (`LossOps`): moreh
kernels for bfloat16 (their dtype), compositions of ttnn ops for float32."""

from __future__ import annotations

from typing import Any

import torch

from ttcustom.backends.tt.arrays import is_bf16
from ttcustom.backends.tt.embedding import one_hot

Array = Any


class LossOps:
    """TTBackend's softmax, log-softmax and cross-entropy primitives."""

    def softmax(self, x, dim):
        return self.ttnn.softmax(x, dim, numeric_stable=True,
                                 compute_kernel_config=self.kernel_config)

    def softmax_backward(self, grad, y, dim):
        """moreh_softmax_backward for bfloat16 (its dtypes); y * (g - sum(g * y)) else."""
        T = self.ttnn
        if self.dtype(y) == torch.bfloat16:
            return T.moreh_softmax_backward(y, grad, dim, compute_kernel_config=self.kernel_config)
        return T.multiply(y, T.subtract(grad, self._sum(T.multiply(grad, y), [dim], True)))

    def log_softmax(self, x, dim):
        return self.ttnn.moreh_logsoftmax(x, dim, compute_kernel_config=self.kernel_config)

    def log_softmax_backward(self, grad, y, dim):
        """moreh_logsoftmax_backward for bfloat16 (its dtypes); g - exp(y) * sum(g) else."""
        T = self.ttnn
        if self.dtype(y) == torch.bfloat16:
            return T.moreh_logsoftmax_backward(y, grad, dim,
                                               compute_kernel_config=self.kernel_config)
        return T.subtract(grad, T.multiply(T.exp(y), self._sum(grad, [dim], True)))

    def cross_entropy(self, logits, target, ignore_index, reduction):
        return cross_entropy(self, logits, target, ignore_index, reduction)

    def cross_entropy_backward(self, grad, logits, target, logsumexp, ignore_index, reduction):
        return cross_entropy_backward(self, grad, logits, target, logsumexp, ignore_index,
                                        reduction)


def _row_weights(bk, target: Array, ignore_index: int) -> Array:
    """1.0 for counted rows, 0.0 for ignored ones, as float32 [N]."""
    return bk.cast(bk.ttnn.ne(target, ignore_index), torch.float32)


def cross_entropy(bk, logits, target, ignore_index, reduction):
    """Per-row losses via moreh_logsoftmax + moreh_nll_loss for bfloat16 logits (the
    kernels' dtype; logsumexp recomputed in backward), composed for float32."""
    T = bk.ttnn
    rows, classes = bk.shape(logits)
    if is_bf16(bk, logits):
        logp = T.moreh_logsoftmax(logits, 1, compute_kernel_config=bk.kernel_config)
        kernel_reduction = "none" if reduction == "none" else "sum"
        loss = T.moreh_nll_loss(logp, target, kernel_reduction, ignore_index=ignore_index,
                                compute_kernel_config=bk.kernel_config)
        lse = None
    else:
        lse = bk.logsumexp_last(logits)
        picked = bk.sum(T.multiply(one_hot(bk, target, classes, bk.dtype(logits)), logits),
                        [-1], keepdim=True)
        losses = bk.mul(bk.reshape(T.subtract(lse, picked), (rows,)),
                        _row_weights(bk, target, ignore_index))
        loss = losses if reduction == "none" else bk.sum(losses, None)
        lse = bk.reshape(lse, (rows,))
    loss = bk.cast(loss, torch.float32)
    if reduction == "none":
        return bk.reshape(loss, (rows,)), lse
    loss = bk.reshape(loss, ())
    if reduction == "mean":
        loss = bk.div(loss, bk.sum(_row_weights(bk, target, ignore_index), None))
    return loss, lse


def cross_entropy_backward(bk, grad, logits, target, logsumexp, ignore_index, reduction):
    """d logits = (softmax - one_hot) * grad per counted row (/ count for mean)."""
    T = bk.ttnn
    rows, classes = bk.shape(logits)
    scale = bk.cast(grad, torch.float32)
    if reduction == "mean":
        scale = bk.div(scale, bk.sum(_row_weights(bk, target, ignore_index), None))
    if logsumexp is None:
        logp = T.moreh_logsoftmax(logits, 1, compute_kernel_config=bk.kernel_config)
        out_grad = bk.cast(scale, torch.bfloat16)
        if reduction != "none":  # the loss's gradient: one [1, 1] tile, not a rank-0 tensor
            out_grad = bk.reshape(out_grad, (1, 1))
        dlogp = T.moreh_nll_loss_backward(
            target, out_grad, False, ignore_index=ignore_index,
            input_grad_tensor=bk.empty((rows, classes), logits),
            compute_kernel_config=bk.kernel_config,
        )
        return T.moreh_logsoftmax_backward(logp, dlogp, 1,
                                           compute_kernel_config=bk.kernel_config)
    probs = T.exp(T.subtract(logits, bk.reshape(logsumexp, (rows, 1))))
    hits = one_hot(bk, target, classes, bk.dtype(logits))
    weights = bk.mul(_row_weights(bk, target, ignore_index), scale)
    return bk.mul(T.subtract(probs, hits), bk.reshape(weights, (rows, 1)))
