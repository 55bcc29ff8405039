"""Primitives that ttnn has no single kernel for, composed from ttnn ops on the device.

Each function takes the `TTBackend` (`bk`) and works on device tensors. Where a fused
ttnn kernel exists only for some dtypes or shapes (bfloat16-only moreh kernels, the
rotary kernel's 64-wide heads) the fused kernel is used when it applies and the
composition otherwise. Constants (causal masks, index ramps, the rotate-half matrix)
are built on the device from `ttnn.full`/`ttnn.arange`, never uploaded.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from ttcustom.backends.bias import attention_bias

Array = Any
TILE = 32
#: additive mask value for excluded attention keys (finite: inf arithmetic is avoided)
MASKED = -1e30


# ---------------------------------------------------------------------- shapes
def resolve_shape(source: tuple[int, ...], shape: Sequence[int]) -> tuple[int, ...]:
    """`shape` with a -1 replaced by the size that keeps the element count of `source`."""
    shape = tuple(shape)
    if -1 not in shape:
        return shape
    known = math.prod(n for n in shape if n != -1)
    return tuple(math.prod(source) // known if n == -1 else n for n in shape)


@dataclass(frozen=True)
class IndexPlan:
    """Basic indexing as one strided ttnn.slice plus a reshape."""

    source_shape: tuple[int, ...]
    starts: list[int]
    ends: list[int]
    steps: list[int]
    kept_shape: tuple[int, ...]  # the slice's shape, every source dim kept
    out_shape: tuple[int, ...]  # after dropping int-indexed dims and adding None dims

    @property
    def is_full(self) -> bool:
        return self.kept_shape == self.source_shape and all(s == 1 for s in self.steps)


def plan_index(shape: tuple[int, ...], index: tuple) -> IndexPlan:
    """Translate ints, slices (step >= 1), None and Ellipsis over `shape` into an IndexPlan."""
    index = index if isinstance(index, tuple) else (index,)
    consuming = sum(item is not None and item is not Ellipsis for item in index)
    if consuming > len(shape):
        raise IndexError(f"too many indices ({consuming}) for a tensor of shape {shape}")
    items: list = []
    for item in index:
        items.extend([slice(None)] * (len(shape) - consuming) if item is Ellipsis else [item])
    items.extend([slice(None)] * (len(shape) - sum(i is not None for i in items)))
    starts, ends, steps, kept, out = [], [], [], [], []
    dim = 0
    for item in items:
        if item is None:
            out.append(1)
            continue
        size = shape[dim]
        if isinstance(item, int):
            if not -size <= item < size:
                raise IndexError(f"index {item} out of range for dim {dim} of size {size}")
            start, stop, step = item % size, item % size + 1, 1
        else:
            start, stop, step = item.indices(size)
            if step < 1:
                raise ValueError(f"slice step must be >= 1, got {step}")
        length = len(range(start, stop, step))
        starts.append(start)
        ends.append(max(stop, start))
        steps.append(step)
        kept.append(length)
        if not isinstance(item, int):
            out.append(length)
        dim += 1
    return IndexPlan(tuple(shape), starts, ends, steps, tuple(kept), tuple(out))


def broadcast_batch(bk, a: Array, b: Array) -> tuple[Array, Array]:
    """Expand the batch dims of two matmul operands to a common shape (torch broadcasting)."""
    sa, sb = bk.shape(a), bk.shape(b)
    if len(sb) == 2 or sa[:-2] == sb[:-2]:
        return a, b
    batch = tuple(torch.broadcast_shapes(sa[:-2], sb[:-2]))

    def expand(x: Array, s: tuple[int, ...]) -> Array:
        x = bk.reshape(x, (1,) * (len(batch) + 2 - len(s)) + s)
        return bk.expand(x, batch + s[-2:])

    return expand(a, sa), expand(b, sb)


def sum_rows(bk, a: Array) -> Array:
    """Sum over every dim but the last (a per-feature gradient)."""
    ndim = len(bk.shape(a))
    return bk.sum(a, list(range(ndim - 1)), keepdim=False) if ndim > 1 else a


def is_bf16(bk, a: Array) -> bool:
    return bk.dtype(a) == torch.bfloat16


# ---------------------------------------------------------------------- embedding
def embedding_backward(bk, grad: Array, ids: Array, weight: Array) -> Array:
    """Rows of `grad` summed per id into a table shaped like `weight`.

    bfloat16: ttnn.embedding_bw, which takes grads as [1, 1, n, D] with n and D
    multiples of 32 (ids padded with 0 and grad rows with zeros, which add nothing) and
    reads only the shape of the table it is given. Other dtypes keep their precision
    through one_hot(ids)^T @ grad (O(n * vocab) memory).
    """
    T = bk.ttnn
    vocab, width = bk.shape(weight)
    count = math.prod(bk.shape(ids))
    if not is_bf16(bk, grad):
        one_hot = _one_hot(bk, bk.reshape(ids, (count,)), vocab, bk.dtype(grad))
        return bk.matmul(one_hot, bk.reshape(grad, (count, width)), transpose_a=True)
    ids_row = bk.pad_to_tile(bk.reshape(ids, (1, count)), [1], 0)
    rows = bk.pad_to_tile(bk.reshape(grad, (1, 1, count, width)), [2, 3], 0.0)
    padded_width = bk.shape(rows)[3]
    table = weight
    if padded_width != width or not is_bf16(bk, weight):
        table = bk.empty((vocab, padded_width), rows)
    out = T.embedding_bw(bk._indices(ids_row), table, rows)
    return bk.crop(bk.reshape(out, (vocab, padded_width)), (vocab, width))


def embedding(bk, rows: Array, weight: Array) -> Array:
    """The rows of `weight` at the uint32 ROW_MAJOR ids `rows` [N, S] -> [N, S, D].

    ttnn.embedding takes bfloat16 weights only. A float32 table is looked up as three
    bfloat16 parts (each the rounding of what the previous ones left: 3 x 8 bits carry
    float32's 24-bit mantissa), summed back in float32, so the rows come out exact.
    """
    T = bk.ttnn
    if is_bf16(bk, weight):
        return T.embedding(rows, weight, layout=T.TILE_LAYOUT)
    out, rest = None, weight
    for _ in range(3):
        part = T.typecast(rest, T.bfloat16)
        wide = T.typecast(part, T.float32)
        rest = T.subtract(rest, wide)
        looked_up = T.typecast(T.embedding(rows, part, layout=T.TILE_LAYOUT), T.float32)
        out = looked_up if out is None else T.add(out, looked_up)
    return out


# ---------------------------------------------------------------------- norms
def rms_norm_backward(bk, grad: Array, x: Array, weight: Array | None, rstd: Array,
                      need_weight: bool = True):
    """dx = rstd * (g - x_hat * mean(g * x_hat)), g = grad * weight; dw = sum(grad * x_hat)
    (not for a frozen weight: `need_weight` False)."""
    T = bk.ttnn
    x_hat = T.multiply(x, rstd)
    g = T.multiply(grad, weight) if weight is not None else grad
    dx = T.multiply(rstd, T.subtract(g, T.multiply(x_hat, bk.mean_last(T.multiply(g, x_hat)))))
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


# ---------------------------------------------------------------------- rotary
def rotary(bk, x: Array, cos: Array, sin: Array) -> Array:
    """x * cos + rotate_half(x) * sin (HF convention) on [B, H, S, D].

    ttnn.experimental.rotary_embedding when cos/sin are one [S, D] table and D is a
    multiple of 64 (its kernel's tile pairs); otherwise rotate_half as a matmul with a
    signed permutation matrix, which is tile-friendly for any D.
    """
    T = bk.ttnn
    *_, seq, width = bk.shape(x)
    table = (1, 1, seq, width)

    def as_table(t: Array) -> Array | None:
        shape = bk.shape(t)
        if shape[-2:] != (seq, width) or math.prod(shape[:-2]) != 1:
            return None
        # one table per forward serves every layer's q and k: laid out once
        return bk.derived(t, ("rotary table", bk.dtype(x)),
                          lambda: bk.reshape(bk.cast(t, bk.dtype(x)), table))

    c, s = as_table(cos), as_table(sin)
    if width % 64 == 0 and c is not None and s is not None:
        return bk.crop(T.experimental.rotary_embedding(x, c, s), bk.shape(x))
    rotated = bk.matmul(x, rotate_half_matrix(bk, width, bk.dtype(x)))
    return bk.add(bk.mul(x, cos), bk.mul(rotated, sin))


def rotate_half_matrix(bk, width: int, dtype: torch.dtype) -> Array:
    """R with x @ R == cat(-x[D/2:], x[:D/2]): +1 at (i, i + D/2), -1 at (i + D/2, i)."""
    T = bk.ttnn
    half = width // 2

    def make() -> Array:
        ramp = T.arange(0, width, 1, dtype=T.float32, device=bk.device.mesh,
                        layout=T.TILE_LAYOUT)
        rows, cols = bk.reshape(ramp, (width, 1)), bk.reshape(ramp, (1, width))
        plus = T.eq(cols, T.add(rows, float(half)))
        minus = T.eq(cols, T.subtract(rows, float(half)))
        return bk.cast(T.subtract(plus, minus), dtype)

    return bk.constant(("rotate_half", width, dtype), make)


# ---------------------------------------------------------------------- attention
def causal_mask(bk, rows: int, cols: int, dtype: torch.dtype) -> Array:
    """[rows, cols] additive mask: MASKED above the diagonal (torch's top-left causal)."""
    return bk.constant(
        ("causal", rows, cols, dtype),
        lambda: attention_bias(bk, bk.ttnn.tril(bk.full((rows, cols), 1.0, dtype)), dtype,
                               MASKED),
    )


def grouped_causal_mask(bk, groups: int, rows: int, cols: int, dtype: torch.dtype) -> Array:
    """`causal_mask` stacked `groups` times along the rows: [groups * rows, cols]."""
    if groups == 1:
        return causal_mask(bk, rows, cols, dtype)

    def make() -> Array:
        mask = bk.reshape(causal_mask(bk, rows, cols, dtype), (1, rows, cols))
        return bk.reshape(bk.expand(mask, (groups, rows, cols)), (groups * rows, cols))

    return bk.constant(("causal", groups, rows, cols, dtype), make)


def _grouped(bk, x: Array, kv_heads: int) -> Array:
    """[B, H, S, D] as [B, KV, G * S, D]: each K/V head's G query heads stacked on the rows
    (a reshape: heads of one group are adjacent), so one matmul per K/V head serves the
    whole group and K/V are never repeated (ttml's grouped attention)."""
    batch, heads, seq, width = bk.shape(x)
    return x if heads == kv_heads else bk.reshape(x, (batch, kv_heads, heads // kv_heads * seq,
                                                      width))


def _ungrouped(bk, x: Array, heads: int) -> Array:
    """`_grouped` undone: [B, KV, G * S, D] -> [B, H, S, D]."""
    batch, kv_heads, rows, width = bk.shape(x)
    return x if heads == kv_heads else bk.reshape(x, (batch, heads, rows * kv_heads // heads,
                                                      width))


def _grouped_mask(bk, mask: Array, heads: int, kv_heads: int, seq: int) -> Array:
    """An additive mask broadcastable to [B, H, S, K], for grouped scores [B, KV, G * S, K]."""
    shape = bk.shape(mask)
    shape = (1,) * (4 - len(shape)) + shape
    mask = bk.reshape(mask, shape)
    if heads == kv_heads or shape[1:3] == (1, 1):  # the same for every head and query
        return mask
    full = bk.expand(mask, (shape[0], heads, seq, shape[3]))
    return bk.reshape(full, (shape[0], kv_heads, heads // kv_heads * seq, shape[3]))


def _scores(bk, q, k, mask, is_causal, scale, heads: int) -> Array:
    """Grouped q k^T * scale (+ mask, + causal mask) in float32: [B, KV, G * S, K]."""
    kv_heads = bk.shape(k)[1]
    groups, seq = heads // kv_heads, bk.shape(q)[2] * kv_heads // heads
    scores = bk.mul(bk.matmul(q, k, transpose_b=True, dtype=torch.float32), scale)
    if mask is not None:
        scores = bk.add(scores, _grouped_mask(bk, mask, heads, kv_heads, seq))
    if is_causal:
        cols = bk.shape(scores)[-1]
        scores = bk.add(scores, grouped_causal_mask(bk, groups, seq, cols, torch.float32))
    return scores


def attention(bk, q, k, v, mask, is_causal, scale) -> tuple[Array, Array]:
    """(out, logsumexp) with the probabilities formed explicitly (training forward).

    ttnn's fused SDPA returns no logsumexp, which the backward needs. Grouped-query
    attention runs on queries grouped per K/V head (`_grouped`): K/V are not repeated.
    """
    T = bk.ttnn
    heads, kv_heads = bk.shape(q)[1], bk.shape(k)[1]
    scores = _scores(bk, _grouped(bk, q, kv_heads), k, mask, is_causal, scale, heads)
    lse = bk.logsumexp_last(scores)
    probs = bk.cast(T.exp(T.subtract(scores, lse)), bk.dtype(q))
    out = _ungrouped(bk, bk.matmul(probs, v), heads)
    return out, bk.reshape(_ungrouped(bk, lse, heads), bk.shape(q)[:-1])


def attention_backward(bk, grad, q, k, v, out, logsumexp, mask, is_causal, scale):
    """(dq, dk, dv) from recomputed probabilities, grouped per K/V head like `attention`:
    the products over a group's rows sum dk and dv over its query heads."""
    T = bk.ttnn
    heads, kv_heads = bk.shape(q)[1], bk.shape(k)[1]
    qg, grad_g, out_g = (_grouped(bk, t, kv_heads) for t in (q, grad, out))
    scores = _scores(bk, qg, k, mask, is_causal, scale, heads)
    lse = _grouped(bk, bk.reshape(logsumexp, bk.shape(logsumexp) + (1,)), kv_heads)
    probs32 = T.exp(T.subtract(scores, lse))
    dtype = bk.dtype(q)
    dv = bk.matmul(bk.cast(probs32, dtype), grad_g, transpose_a=True)
    dprobs = bk.matmul(grad_g, v, transpose_b=True, dtype=torch.float32)
    row_dot = bk.cast(bk.sum(T.multiply(grad_g, out_g), [-1], keepdim=True), torch.float32)
    dscores = bk.cast(T.multiply(probs32, T.subtract(dprobs, row_dot)), dtype)
    dq = _ungrouped(bk, bk.mul(bk.matmul(dscores, k), scale), heads)
    dk = bk.mul(bk.matmul(dscores, qg, transpose_a=True), scale)
    return dq, dk, dv


def fused_attention(bk, q, k, v, mask, is_causal, scale) -> Array:
    """ttnn.transformer.scaled_dot_product_attention (forward only: inference).

    The kernel works on whole 32-row chunks, so sequences are padded to a tile: padded
    queries are cropped from the output, padded keys are masked out (by the causal
    flag when queries and keys line up, by an explicit mask column otherwise). The
    kernel takes either a mask or the causal flag, so causal + mask becomes one mask.
    """
    T = bk.ttnn
    batch, heads, seq, width = bk.shape(q)
    keys = bk.shape(k)[2]
    dtype = bk.dtype(q)
    if is_causal and (mask is not None or seq != keys):
        causal = causal_mask(bk, seq, keys, dtype)
        mask = causal if mask is None else bk.add(mask, causal)
        is_causal = False
    if mask is None and not is_causal and keys % TILE:
        mask = bk.full((1, 1, seq, keys), 0.0, dtype)
    if mask is not None:
        mask = _mask_4d(bk, bk.cast(mask, dtype), seq, keys)
        mask = bk.pad_to_tile(bk.pad_to_tile(mask, [3], MASKED), [2], 0.0)
    q, k, v = (bk.pad_to_tile(t, [2], 0.0) for t in (q, k, v))
    out = T.transformer.scaled_dot_product_attention(
        q, k, v, attn_mask=mask, is_causal=is_causal, scale=scale,
        compute_kernel_config=bk.kernel_config,
    )
    return bk.crop(out, (batch, heads, seq, width))


def _mask_4d(bk, mask: Array, seq: int, keys: int) -> Array:
    """A broadcastable mask as [B or 1, H or 1, seq, keys] (the kernel's mask shape)."""
    shape = bk.shape(mask)
    shape = (1,) * (4 - len(shape)) + shape
    return bk.expand(bk.reshape(mask, shape), shape[:2] + (seq, keys))


# ---------------------------------------------------------------------- loss
def _row_weights(bk, target: Array, ignore_index: int) -> Array:
    """1.0 for counted rows, 0.0 for ignored ones, as float32 [N]."""
    return bk.cast(bk.ttnn.ne(target, ignore_index), torch.float32)


def _one_hot(bk, target: Array, classes: int, dtype: torch.dtype) -> Array:
    """[N, classes] with a 1 at each target (ignored targets match no class)."""
    T = bk.ttnn
    ramp = bk.constant(("ramp", classes), lambda: T.arange(
        0, classes, 1, dtype=T.int32, device=bk.device.mesh, layout=T.TILE_LAYOUT))
    rows = bk.shape(target)[0]
    hits = T.eq(bk.reshape(ramp, (1, classes)), bk.reshape(target, (rows, 1)))
    return bk.cast(hits, dtype)


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
        picked = bk.sum(T.multiply(_one_hot(bk, target, classes, bk.dtype(logits)), logits),
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
    one_hot = _one_hot(bk, target, classes, bk.dtype(logits))
    weights = bk.mul(_row_weights(bk, target, ignore_index), scale)
    return bk.mul(T.subtract(probs, one_hot), bk.reshape(weights, (rows, 1)))


# ---------------------------------------------------------------------- optimizers
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
