"""tt attention and rotary embedding, forward and backward (`AttentionOps`).

Training attention forms the probabilities explicitly in float32 (ttnn's fused SDPA
returns no logsumexp); inference uses the fused kernel. Constants (causal masks, the
rotate-half matrix) are built on the device from `ttnn.full`/`ttnn.arange`, never
uploaded, and kept by `TTBackend.constant`.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from ttcustom.backends.bias import attention_bias
from ttcustom.backends.tt.arrays import TILE

Array = Any
#: additive mask value for excluded attention keys (finite: inf arithmetic is avoided)
MASKED = -1e30


class AttentionOps:
    """TTBackend's attention and rotary primitives."""

    def sdpa(self, q, k, v, mask, is_causal, scale, need_logsumexp=True):
        if not need_logsumexp:
            return fused_attention(self, q, k, v, mask, is_causal, scale), None
        return attention(self, q, k, v, mask, is_causal, scale)

    def sdpa_backward(self, grad, q, k, v, out, logsumexp, mask, is_causal, scale):
        return attention_backward(self, grad, q, k, v, out, logsumexp, mask, is_causal, scale)

    def rotary(self, x, cos, sin):
        return rotary(self, x, cos, sin)


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
