"""tt attention, rotary embedding and head split/merge, forward and backward (`AttentionOps`).

Training attention runs as tt-train does: the forward on ttnn's fused SDPA kernel where
its device rules allow (bfloat16, a head dim of whole tiles), composed otherwise; the
backward recomputes the probabilities (the fused kernel returns no logsumexp, so none is
kept) with one grouped matmul and `softmax`, and takes dS from `moreh_softmax_backward`
(bfloat16; composed in float32), scaled once. Constants (causal masks, the rotate-half
matrix) are built on the device from `ttnn.full`/`ttnn.arange`, never uploaded, and kept
by `TTBackend.constant`; masks and tables made from a forward's arrays are laid out once
for all layers (`TTBackend.derived`). A fused q|k|v stream is split into heads and the
output merged back as ttml does, with `nlp_create_qkv_heads` / `nlp_concat_heads`.
"""

from __future__ import annotations

import math
import struct
from typing import Any

import torch

from ttcustom.backends.base import Backend
from ttcustom.backends.bias import attention_bias
from ttcustom.backends.tt.arrays import TILE

Array = Any
#: additive mask value for excluded attention keys (finite: inf arithmetic is avoided)
MASKED = -1e30


class AttentionOps:
    """TTBackend's attention and rotary primitives."""

    def sdpa(self, q, k, v, mask, is_causal, scale, need_logsumexp=True):
        return attention(self, q, k, v, mask, is_causal, scale), None

    def sdpa_backward(self, grad, q, k, v, out, logsumexp, mask, is_causal, scale):
        return attention_backward(self, grad, q, k, v, mask, is_causal, scale)

    def split_qkv_heads(self, qkv, batch, num_heads, num_kv_heads):
        return split_qkv_heads(self, qkv, batch, num_heads, num_kv_heads)

    def merge_heads(self, x):
        return merge_heads(self, x)

    def rotary(self, x, cos, sin):
        return rotary(self, x, cos, sin)

    def rotary_backward(self, grad, cos, sin):
        return rotary(self, grad, cos, sin, inverse=True)


def attention(bk, q, k, v, mask, is_causal, scale) -> Array:
    """The output only (no logsumexp: the backward recomputes the probabilities): ttnn's
    fused kernel where it is legal (`fused_legal`), else the probabilities formed
    explicitly on queries grouped per K/V head (`_grouped`: K/V are not repeated)."""
    if fused_legal(bk, q, k, v):
        return fused_attention(bk, q, k, v, mask, is_causal, scale)
    heads, kv_heads = bk.shape(q)[1], bk.shape(k)[1]
    probs = _probs(bk, _grouped(bk, q, kv_heads), k, mask, is_causal, scale, heads)
    return _ungrouped(bk, bk.matmul(probs, v), heads)


def attention_backward(bk, grad, q, k, v, mask, is_causal, scale):
    """(dq, dk, dv) from recomputed probabilities, grouped per K/V head like `attention`:
    the products over a group's rows sum dk and dv over its query heads. As tt-train's
    attention backward: dS = softmax_backward(P, dP), scaled once for dq and dk."""
    heads, kv_heads = bk.shape(q)[1], bk.shape(k)[1]
    qg, grad_g = _grouped(bk, q, kv_heads), _grouped(bk, grad, kv_heads)
    probs = _probs(bk, qg, k, mask, is_causal, scale, heads)
    dv = bk.matmul(probs, grad_g, transpose_a=True)
    dprobs = bk.matmul(grad_g, v, transpose_b=True)
    dscores = bk.mul(bk.softmax_backward(dprobs, probs, -1), scale)
    dq = _ungrouped(bk, bk.matmul(dscores, k), heads)
    dk = bk.matmul(dscores, qg, transpose_a=True)
    return dq, dk, dv


#: dtypes the nlp_* head kernels take (their validate: FLOAT32, BFLOAT16, BFLOAT8_B)
HEAD_DTYPES = (torch.float32, torch.bfloat16)


def split_qkv_heads(bk, qkv: Array, batch: int, num_heads: int,
                    num_kv_heads: int) -> tuple[Array, Array, Array]:
    """[B * S, (H + 2 KV) * D] -> q [B, H, S, D], k, v [B, KV, S, D] with
    `ttnn.experimental.nlp_create_qkv_heads` (ttml's heads_creation), GQA included, where
    it holds: a head dim of whole tiles (the kernel moves whole tiles: a padded head would
    carry its padding into the next head) and whole-tile sequences (each batch's rows start
    a tile, so [B * S] -> [B, 1, S] moves no data; ragged ones are not validated against
    the kernel). Otherwise the composed split."""
    tokens, width = bk.shape(qkv)
    seq, head_dim = tokens // batch, width // (num_heads + 2 * num_kv_heads)
    if head_dim % TILE or seq % TILE or bk.dtype(qkv) not in HEAD_DTYPES:
        return Backend.split_qkv_heads(bk, qkv, batch, num_heads, num_kv_heads)
    q, k, v = bk.ttnn.experimental.nlp_create_qkv_heads(
        bk.reshape(qkv, (batch, 1, seq, width)), num_heads=num_heads,
        num_kv_heads=num_kv_heads, transpose_k_heads=False)
    return q, k, v


def merge_heads(bk, x: Array) -> Array:
    """[B, H, S, D] -> [B * S, H * D] with `ttnn.experimental.nlp_concat_heads` (ttml's
    heads_fusion) under `split_qkv_heads`'s conditions (whole-tile heads and sequences);
    otherwise the composed permute + reshape."""
    batch, heads, seq, width = bk.shape(x)
    if width % TILE or seq % TILE or bk.dtype(x) not in HEAD_DTYPES:
        return Backend.merge_heads(bk, x)
    return bk.reshape(bk.ttnn.experimental.nlp_concat_heads(x), (batch * seq, heads * width))


def fused_legal(bk, q, k, v) -> bool:
    """Whether ttnn's SDPA kernel takes these operands: bfloat16 (its dtypes) and a head
    dim of whole tiles (it rejects padding there), as sdpa_device_operation validates."""
    return (all(bk.dtype(t) == torch.bfloat16 for t in (q, k, v))
            and bk.shape(q)[-1] % TILE == 0)


def _probs(bk, q, k, mask, is_causal, scale, heads: int) -> Array:
    """softmax(q k^T * scale + masks) on grouped queries [B, KV, G * S, K], from float32
    scores, in q's dtype. Masks that make one square bfloat16 matrix per batch (see
    `_square_mask`) are fused into the softmax with the scale (`ttnn.scale_mask_softmax`;
    the scale only where bfloat16 holds it exactly: the kernel reads it as bfloat16)."""
    batch, kv_heads, keys, _ = bk.shape(k)
    seq = bk.shape(q)[2] * kv_heads // heads
    scores = bk.matmul(q, k, transpose_b=True, dtype=torch.float32)
    square = _square_mask(bk, mask, is_causal, batch, seq, keys)
    if square is not None:
        exact = _bf16_exact(scale)
        probs = bk.ttnn.scale_mask_softmax(
            scores if exact else bk.mul(scores, scale), scale if exact else None, square,
            is_causal_mask=True, numeric_stable=True, compute_kernel_config=bk.kernel_config)
        return bk.cast(probs, bk.dtype(q))
    scores = bk.mul(scores, scale)
    bias = _grouped_bias(bk, mask, is_causal, heads, kv_heads, seq, keys)
    if bias is not None:
        scores = bk.add(scores, bias)
    return bk.cast(bk.softmax(scores, -1), bk.dtype(q))


def _bf16_exact(value: float) -> bool:
    """Whether bfloat16 (a float32's upper 16 bits) holds `value` exactly."""
    single = struct.pack("<f", value)
    return struct.unpack("<f", single)[0] == value and single[:2] == b"\0\0"


def _square_mask(bk, mask, is_causal: bool, batch: int, seq: int, keys: int) -> Array | None:
    """The mask (user mask + causal mask) as the full square bfloat16 matrices
    [B, 1, S, S] `scale_mask_softmax` takes with `is_causal_mask` (its mask dtype, the
    input's batch; the kernel reads a batch's matrix again every S rows, so each query
    head stacked on the grouped rows gets it), or None where that cannot hold it: scores
    not square in whole tiles, a mask per head, or one bfloat16 would round (float32)."""
    if seq != keys or seq % TILE or not (is_causal or mask is not None):
        return None
    if mask is None:
        def causal() -> Array:
            square = bk.reshape(causal_mask(bk, seq, seq, torch.bfloat16), (1, 1, seq, seq))
            return bk.expand(square, (batch, 1, seq, seq))

        return bk.constant(("causal", batch, seq, "square"), causal)
    shape = (1,) * (4 - len(bk.shape(mask))) + bk.shape(mask)
    if bk.dtype(mask) != torch.bfloat16 or shape[1] != 1:
        return None

    def make() -> Array:
        square = bk.reshape(mask, shape)
        if is_causal:
            square = bk.add(square, causal_mask(bk, seq, seq, torch.bfloat16))
        return bk.expand(square, (batch, 1, seq, seq))

    return bk.derived(mask, ("square mask", is_causal, batch, seq), make)


def _grouped_bias(bk, mask, is_causal: bool, heads: int, kv_heads: int, seq: int,
                  keys: int) -> Array | None:
    """The additive float32 mask (user mask + causal mask) for grouped scores
    [B, KV, G * S, K]: made once per mask array for all layers."""
    groups = heads // kv_heads
    if mask is None:
        return grouped_causal_mask(bk, groups, seq, keys, torch.float32) if is_causal else None

    def make() -> Array:
        bias = _grouped_mask(bk, bk.cast(mask, torch.float32), heads, kv_heads, seq)
        if is_causal:
            bias = bk.add(bias, grouped_causal_mask(bk, groups, seq, keys, torch.float32))
        return bias

    return bk.derived(mask, ("grouped bias", is_causal, heads, kv_heads, seq, keys), make)


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
    """ttnn.transformer.scaled_dot_product_attention (bfloat16, see `fused_legal`).

    The kernel works on whole 32-row chunks, so sequences are padded to a tile: padded
    queries are cropped from the output, padded keys are masked out (by the causal
    flag when queries and keys line up, by an explicit mask column otherwise). The
    kernel takes either a mask or the causal flag, so causal + mask becomes one mask.
    """
    batch, heads, seq, width = bk.shape(q)
    keys = bk.shape(k)[2]
    kernel_mask = _fused_mask(bk, mask, is_causal, seq, keys, bk.dtype(q))
    q, k, v = (bk.pad_to_tile(t, [2], 0.0) for t in (q, k, v))
    out = bk.ttnn.transformer.scaled_dot_product_attention(
        q, k, v, attn_mask=kernel_mask, is_causal=is_causal and kernel_mask is None,
        scale=scale, compute_kernel_config=bk.kernel_config,
    )
    return bk.crop(out, (batch, heads, seq, width))


def _fused_mask(bk, mask, is_causal: bool, seq: int, keys: int, dtype) -> Array | None:
    """The SDPA kernel's mask [B or 1, H or 1, seq, keys] padded to tiles, or None where
    the causal flag alone does: a constant, or made once per mask array for all layers."""
    def laid_out(source: Array | None) -> Array:
        if is_causal:
            causal = causal_mask(bk, seq, keys, dtype)
            source = causal if source is None else bk.add(bk.cast(source, dtype), causal)
        elif source is None:
            source = bk.full((1, 1, seq, keys), 0.0, dtype)
        out = _mask_4d(bk, bk.cast(source, dtype), seq, keys)
        return bk.pad_to_tile(bk.pad_to_tile(out, [3], MASKED), [2], 0.0)

    if mask is not None:
        return bk.derived(mask, ("sdpa mask", is_causal, seq, keys, dtype),
                          lambda: laid_out(mask))
    if (is_causal and seq == keys) or (not is_causal and keys % TILE == 0):
        return None
    return bk.constant(("sdpa mask", is_causal, seq, keys, dtype), lambda: laid_out(None))


def _mask_4d(bk, mask: Array, seq: int, keys: int) -> Array:
    """A broadcastable mask as [B or 1, H or 1, seq, keys] (the kernel's mask shape)."""
    shape = bk.shape(mask)
    shape = (1,) * (4 - len(shape)) + shape
    return bk.expand(bk.reshape(mask, shape), shape[:2] + (seq, keys))


def rotary(bk, x: Array, cos: Array, sin: Array, inverse: bool = False) -> Array:
    """x * cos + rotate_half(x) * sin (HF convention) on [B, H, S, D]; with `inverse`,
    x * cos - rotate_half(x) * sin (the backward: the rotation is orthogonal).

    ttnn.experimental.rotary_embedding when cos/sin are one [S, D] table and D is a
    multiple of 64 (its kernel's tile pairs); otherwise rotate_half as a matmul with a
    signed permutation matrix, which is tile-friendly for any D.
    """
    *_, seq, width = bk.shape(x)
    dtype = bk.dtype(x)
    table = (1, 1, seq, width)

    def as_table(t: Array, negated: bool) -> Array | None:
        shape = bk.shape(t)
        if shape[-2:] != (seq, width) or math.prod(shape[:-2]) != 1:
            return None

        def make() -> Array:
            out = bk.reshape(bk.cast(t, dtype), table)
            return bk.neg(out) if negated else out

        # one table per forward serves every layer's q and k, forward and backward
        return bk.derived(t, ("rotary table", dtype, negated), make)

    if width % 64 == 0:
        c, s = as_table(cos, False), as_table(sin, inverse)
        if c is not None and s is not None:
            return bk.crop(bk.ttnn.experimental.rotary_embedding(x, c, s), bk.shape(x))
    rotated = bk.matmul(x, rotate_half_matrix(bk, width, dtype))
    return (bk.sub if inverse else bk.add)(bk.mul(x, cos), bk.mul(rotated, sin))


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
