"""tt embedding: lookup and its backward (`EmbeddingOps`), and the one-hot of ids."""

from __future__ import annotations

import math
from typing import Any

import torch

from ttcustom.backends.tt.arrays import is_bf16

Array = Any


class EmbeddingOps:
    """TTBackend's embedding primitives."""

    def embedding(self, ids, weight):
        shape = self.shape(ids)
        rows = self._indices(self.reshape(ids, (math.prod(shape[:-1]), shape[-1])
                                          if shape else (1, 1)))
        out = embedding(self, rows, weight)
        return self.reshape(out, shape + (self.shape(weight)[1],))

    def _indices(self, ids: Array) -> Array:
        """Token ids as the embedding kernels read them: uint32, ROW_MAJOR."""
        T = self.ttnn
        return T.to_layout(T.typecast(ids, T.uint32), T.ROW_MAJOR_LAYOUT)

    def embedding_backward(self, grad, ids, weight):
        return embedding_backward(self, grad, ids, weight)


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
        rows = one_hot(bk, bk.reshape(ids, (count,)), vocab, bk.dtype(grad))
        return bk.matmul(rows, bk.reshape(grad, (count, width)), transpose_a=True)
    ids_row = bk.pad_to_tile(bk.reshape(ids, (1, count)), [1], 0)
    rows = bk.pad_to_tile(bk.reshape(grad, (1, 1, count, width)), [2, 3], 0.0)
    padded_width = bk.shape(rows)[3]
    table = weight
    if padded_width != width or not is_bf16(bk, weight):
        table = bk.empty((vocab, padded_width), rows)
    out = T.embedding_bw(bk._indices(ids_row), table, rows)
    return bk.crop(bk.reshape(out, (vocab, padded_width)), (vocab, width))


def one_hot(bk, target: Array, classes: int, dtype: torch.dtype) -> Array:
    """[N, classes] with a 1 at each target (ignored targets match no class)."""
    T = bk.ttnn
    ramp = bk.constant(("ramp", classes), lambda: T.arange(
        0, classes, 1, dtype=T.int32, device=bk.device.mesh, layout=T.TILE_LAYOUT))
    rows = bk.shape(target)[0]
    hits = T.eq(bk.reshape(ramp, (1, classes)), bk.reshape(target, (rows, 1)))
    return bk.cast(hits, dtype)
