"""Decoder-only transformer parts: rotary tables, attention (GQA), MLPs, the block, KV cache.

All activation math goes through `ttcustom.functional`, so the same modules run on every
backend. torch appears only on the host, to compute rotary tables once.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from ttcustom import functional as F
from ttcustom.autograd.tensor import Tensor
from ttcustom.backends import Backend
from ttcustom.creation import from_torch
from ttcustom.nn.layers import Dropout, LayerNorm, Linear, RMSNorm
from ttcustom.nn.module import Module

Device = str | Backend | None

ROPE_TYPES = ("default", "linear", "dynamic", "llama3")


# ---------------------------------------------------------------------- rotary tables
def rope_inv_freq(
    head_dim: int,
    rope_theta: float,
    rope_scaling: Mapping[str, Any] | None = None,
    max_position_embeddings: int = 2048,
    seq_len: int | None = None,
) -> torch.Tensor:
    """Inverse frequencies [head_dim // 2] (fp32) computed as transformers computes them.

    `rope_scaling` is the HF dict ({"rope_type": ..., "factor": ...}); `seq_len` matters only
    for "dynamic" (NTK) scaling, which changes the base once sequences outgrow
    `max_position_embeddings`.
    """
    scaling = dict(rope_scaling or {})
    rope_type = scaling.get("rope_type", scaling.get("type", "default"))
    if rope_type not in ROPE_TYPES:
        raise NotImplementedError(
            f"rope_scaling.rope_type {rope_type!r} is not supported; supported: {ROPE_TYPES}"
        )
    exponents = torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim
    base = rope_theta
    if rope_type == "dynamic" and seq_len is not None and seq_len > max_position_embeddings:
        factor = scaling["factor"]
        # transformers does this in fp32 tensor math; so do we, for identical tables.
        ratio = factor * torch.tensor(seq_len) / max_position_embeddings - (factor - 1)
        base = base * ratio ** (head_dim / (head_dim - 2))
    inv_freq = 1.0 / (base**exponents)
    if rope_type == "linear":
        inv_freq = inv_freq / scaling["factor"]
    elif rope_type == "llama3":
        inv_freq = _llama3_scaled(inv_freq, scaling)
    return inv_freq


def _llama3_scaled(inv_freq: torch.Tensor, scaling: Mapping[str, Any]) -> torch.Tensor:
    """Llama 3.1 frequency scaling: long wavelengths / factor, short kept, a smooth ramp between."""
    factor = scaling["factor"]
    low, high = scaling["low_freq_factor"], scaling["high_freq_factor"]
    old_context = scaling["original_max_position_embeddings"]
    low_wavelen, high_wavelen = old_context / low, old_context / high
    wavelen = 2 * math.pi / inv_freq
    scaled = torch.where(wavelen > low_wavelen, inv_freq / factor, inv_freq)
    smooth = (old_context / wavelen - low) / (high - low)
    smoothed = (1 - smooth) * scaled / factor + smooth * scaled
    medium = ~(wavelen < high_wavelen) * ~(wavelen > low_wavelen)
    return torch.where(medium, smoothed, scaled)


def rope_cos_sin(inv_freq: torch.Tensor, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin [..., head_dim] for integer `positions` (HF layout: frequencies repeated)."""
    freqs = positions[..., None].float() * inv_freq
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos(), emb.sin()


class RotaryEmbedding(Module):
    """cos/sin tables cached on the device, grown on demand, sliced per forward.

    Rows are computed as transformers computes them per position, so any table size gives
    the same values. "dynamic" scaling past `max_position_embeddings` depends on the
    sequence length, so those tables are computed for the call and not cached.
    """

    def __init__(self, head_dim: int, rope_theta: float, rope_scaling: Mapping | None,
                 max_position_embeddings: int, dtype: torch.dtype | None = None,
                 device: Device = None) -> None:
        super().__init__()
        self.head_dim = head_dim
        self.rope_theta = rope_theta
        self.rope_scaling = dict(rope_scaling) if rope_scaling else None
        self.max_position_embeddings = max_position_embeddings
        self.inv_freq = rope_inv_freq(head_dim, rope_theta, rope_scaling, max_position_embeddings)
        rows = min(max_position_embeddings, 4096)
        cos, sin = rope_cos_sin(self.inv_freq, torch.arange(rows))
        self.register_buffer("cos_table", from_torch(cos, dtype or torch.float32, backend=device),
                             persistent=False)
        self.register_buffer("sin_table", from_torch(sin, dtype or torch.float32, backend=device),
                             persistent=False)

    @property
    def _dynamic(self) -> bool:
        scaling = self.rope_scaling or {}
        return scaling.get("rope_type", scaling.get("type")) == "dynamic"

    def tables(self, length: int) -> tuple[Tensor, Tensor]:
        """(cos, sin), each [rows >= length, head_dim], covering positions 0..length-1."""
        if self._dynamic and length > self.max_position_embeddings:
            inv_freq = rope_inv_freq(self.head_dim, self.rope_theta, self.rope_scaling,
                                     self.max_position_embeddings, seq_len=length)
            return self._upload(*rope_cos_sin(inv_freq, torch.arange(length)))
        if length > self.cos_table.shape[0]:
            rows = 1 << (length - 1).bit_length()
            self.cos_table, self.sin_table = self._upload(
                *rope_cos_sin(self.inv_freq, torch.arange(rows))
            )
        return self.cos_table, self.sin_table

    def _upload(self, cos: torch.Tensor, sin: torch.Tensor) -> tuple[Tensor, Tensor]:
        table = self.cos_table
        return (from_torch(cos, table.dtype, backend=table.backend),
                from_torch(sin, table.dtype, backend=table.backend))

    def forward(self, start: int, length: int,
                position_ids: Tensor | None = None, max_position: int | None = None
                ) -> tuple[Tensor, Tensor]:
        """cos/sin for positions start..start+length-1 ([S, D]), or for `position_ids`
        [B, S] ([B, 1, S, D]); `max_position` bounds the ids (needed to size the table)."""
        if position_ids is None:
            cos, sin = self.tables(start + length)
            return cos[start:start + length], sin[start:start + length]
        cos, sin = self.tables(max_position + 1)
        batch, seq = position_ids.shape
        shape = (batch, 1, seq, self.head_dim)
        return (F.embedding(position_ids, cos).reshape(shape),
                F.embedding(position_ids, sin).reshape(shape))

    def extra_repr(self) -> str:
        return f"head_dim={self.head_dim}, theta={self.rope_theta}, scaling={self.rope_scaling}"


# ---------------------------------------------------------------------- attention
@dataclass(slots=True)
class AttentionInputs:
    """Per-forward constants shared by every layer: rotary cos/sin, additive mask, causality,
    and the (batch, seq) shape of a token stream the layers see flattened to [B * S, hidden]."""

    cos: Tensor | None
    sin: Tensor | None
    mask: Tensor | None
    is_causal: bool
    batch_shape: tuple[int, int] | None = None
    _dense: Tensor | None = None

    def dense_mask(self, seq: int, like: Tensor) -> Tensor | None:
        """`mask` with causality folded in ([.., S, S]), for attention computed op by op;
        built on first use and shared by the layers."""
        if not self.is_causal:
            return self.mask
        if self._dense is None:
            keep = from_torch(torch.ones(seq, seq).tril(), like.dtype, backend=like.backend)
            dense = F.attention_bias(keep, like.dtype)
            self._dense = dense if self.mask is None else self.mask + dense
        return self._dense


class LayerKV:
    """One layer's cached keys and values [B, Hkv, L, D], grown by concatenation."""

    __slots__ = ("keys", "values")

    def __init__(self) -> None:
        self.keys: Tensor | None = None
        self.values: Tensor | None = None

    def update(self, keys: Tensor, values: Tensor) -> tuple[Tensor, Tensor]:
        if self.keys is not None:
            keys = F.cat([self.keys, keys], dim=2)
            values = F.cat([self.values, values], dim=2)
        self.keys, self.values = keys, values
        return keys, values


class KVCache:
    """Keys and values of every layer, for incremental decoding."""

    def __init__(self, num_layers: int) -> None:
        self.layers = [LayerKV() for _ in range(num_layers)]

    @property
    def length(self) -> int:
        keys = self.layers[0].keys if self.layers else None
        return 0 if keys is None else keys.shape[2]


class Attention(Module):
    """Multi-head attention with grouped K/V heads, rotary positions and HF weight layout.

    Options cover the supported families: biases on q/k/v (Qwen2) or on all projections
    (GPT-2, Llama `attention_bias`), RMSNorm of q and k per head (Qwen3), and one fused
    q/k/v projection (GPT-2's `c_attn`).
    """

    def __init__(self, hidden_size: int, num_heads: int, num_kv_heads: int, head_dim: int, *,
                 qkv_bias: bool = False, o_bias: bool = False, qk_norm_eps: float | None = None,
                 fused_qkv: bool = False, dropout: float = 0.0,
                 dtype: torch.dtype | None = None, device: Device = None) -> None:
        super().__init__()
        if num_heads % num_kv_heads:
            raise ValueError(
                f"Attention: num_attention_heads={num_heads} must be a multiple of "
                f"num_key_value_heads={num_kv_heads}"
            )
        self.num_heads, self.num_kv_heads, self.head_dim = num_heads, num_kv_heads, head_dim
        self.dropout = dropout
        q_size, kv_size = num_heads * head_dim, num_kv_heads * head_dim
        self.fused_qkv = fused_qkv
        if fused_qkv:
            self.qkv_proj = Linear(hidden_size, q_size + 2 * kv_size, qkv_bias, device, dtype)
        else:
            self.q_proj = Linear(hidden_size, q_size, qkv_bias, device, dtype)
            self.k_proj = Linear(hidden_size, kv_size, qkv_bias, device, dtype)
            self.v_proj = Linear(hidden_size, kv_size, qkv_bias, device, dtype)
        self.o_proj = Linear(q_size, hidden_size, o_bias, device, dtype)
        self.qk_norm = qk_norm_eps is not None
        if self.qk_norm:
            self.q_norm = RMSNorm(head_dim, qk_norm_eps, device, dtype)
            self.k_norm = RMSNorm(head_dim, qk_norm_eps, device, dtype)

    def _project(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        if not self.fused_qkv:
            return self.q_proj(x), self.k_proj(x), self.v_proj(x)
        qkv = self.qkv_proj(x)
        q_size = self.num_heads * self.head_dim
        kv_size = self.num_kv_heads * self.head_dim
        return (qkv[..., :q_size], qkv[..., q_size:q_size + kv_size],
                qkv[..., q_size + kv_size:])

    def forward(self, x: Tensor, inputs: AttentionInputs, cache: LayerKV | None = None) -> Tensor:
        """x [B, S, hidden], or the flattened stream [B * S, hidden] of `inputs.batch_shape`;
        the output has x's shape."""
        batch, seq = x.shape[:2] if x.ndim == 3 else inputs.batch_shape
        if cache is None and not self.qk_norm and not (self.training and self.dropout > 0):
            qkv = self._fused_projection(x)
            if qkv is not None:
                return self.o_proj(self._fused_heads(qkv, x, inputs, batch, seq))
        q, k, v = self._project(x)
        q = q.reshape(batch, seq, self.num_heads, self.head_dim)
        k = k.reshape(batch, seq, self.num_kv_heads, self.head_dim)
        v = v.reshape(batch, seq, self.num_kv_heads, self.head_dim)
        if self.qk_norm:
            q, k = self.q_norm(q), self.k_norm(k)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
        if inputs.cos is not None:
            q = F.rotary_embedding(q, inputs.cos, inputs.sin)
            k = F.rotary_embedding(k, inputs.cos, inputs.sin)
        if cache is not None:
            k, v = cache.update(k, v)
        if self.training and self.dropout > 0:
            out = self._attention_with_dropout(q, k, v, inputs)
        else:
            out = F.scaled_dot_product_attention(q, k, v, inputs.mask, inputs.is_causal)
        out = out.transpose(1, 2).reshape(*x.shape[:-1], self.num_heads * self.head_dim)
        return self.o_proj(out)

    def _fused_projection(self, x: Tensor) -> Tensor | None:
        """q|k|v as one [.., (H + 2 KV) * D] stream: the fused projection's output, or the
        separate projections in one grouped product (`F.grouped_linear`); None when a
        projection is not a linear layer (a user's own module)."""
        if self.fused_qkv:
            return self.qkv_proj(x)
        layers = (self.q_proj, self.k_proj, self.v_proj)
        if not all(hasattr(m, "linear_terms") for m in layers):
            return None
        return F.grouped_linear(x, [m.linear_terms(x) for m in layers])

    def _fused_heads(self, qkv: Tensor, x: Tensor, inputs: AttentionInputs, batch: int,
                     seq: int) -> Tensor:
        """Attention with the heads split and merged inside one op (`F.qkv_attention`) on
        the q|k|v stream; the output has x's shape with H * D features."""
        out = F.qkv_attention(qkv.reshape(batch * seq, qkv.shape[-1]), (batch, seq),
                              self.num_heads, self.num_kv_heads, self.head_dim, inputs.cos,
                              inputs.sin, inputs.mask, inputs.is_causal)
        return out.reshape(*x.shape[:-1], out.shape[-1])

    def _attention_with_dropout(self, q: Tensor, k: Tensor, v: Tensor,
                                inputs: AttentionInputs) -> Tensor:
        """softmax(q k^T / sqrt(d) + mask) with dropout on the probabilities, then @ v:
        op by op, since fused attention has no dropout (GPT-2's attn_pdrop in training)."""
        groups = self.num_heads // self.num_kv_heads
        if groups > 1:
            k, v = (_repeat_heads(t, groups) for t in (k, v))
        scores = F.matmul(q, k.transpose(-1, -2)) * (1.0 / math.sqrt(self.head_dim))
        mask = inputs.dense_mask(q.shape[2], q)
        if mask is not None:
            scores = scores + mask
        return F.matmul(F.dropout(F.softmax(scores, -1), self.dropout), v)

    def extra_repr(self) -> str:
        return f"heads={self.num_heads}, kv_heads={self.num_kv_heads}, head_dim={self.head_dim}"


def _repeat_heads(x: Tensor, groups: int) -> Tensor:
    """[B, Hkv, S, D] -> [B, Hkv * groups, S, D], each head repeated `groups` times (GQA)."""
    batch, heads, seq, dim = x.shape
    stacked = F.cat([x.unsqueeze(2)] * groups, dim=2)
    return stacked.reshape(batch, heads * groups, seq, dim)


# ---------------------------------------------------------------------- MLPs
class GatedMLP(Module):
    """SwiGLU feed-forward: down(silu(gate(x)) * up(x)) (Llama, Mistral, Qwen)."""

    def __init__(self, hidden_size: int, intermediate_size: int, bias: bool = False,
                 dtype: torch.dtype | None = None, device: Device = None) -> None:
        super().__init__()
        self.gate_proj = Linear(hidden_size, intermediate_size, bias, device, dtype)
        self.up_proj = Linear(hidden_size, intermediate_size, bias, device, dtype)
        self.down_proj = Linear(intermediate_size, hidden_size, bias, device, dtype)

    def forward(self, x: Tensor) -> Tensor:
        return self.down_proj(F.swiglu(self.gate_proj(x), self.up_proj(x)))


class MLP(Module):
    """GELU feed-forward: fc_out(gelu(fc_in(x))) (GPT-2)."""

    def __init__(self, hidden_size: int, intermediate_size: int, approximate: str = "tanh",
                 bias: bool = True, dtype: torch.dtype | None = None,
                 device: Device = None) -> None:
        super().__init__()
        self.approximate = approximate
        self.fc_in = Linear(hidden_size, intermediate_size, bias, device, dtype)
        self.fc_out = Linear(intermediate_size, hidden_size, bias, device, dtype)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc_out(F.gelu(self.fc_in(x), self.approximate))


# ---------------------------------------------------------------------- block
class TransformerBlock(Module):
    """Pre-norm residual block: x + attn(norm(x)), then x + mlp(norm(x)).

    `dropout` is applied to each branch output (GPT-2's resid_pdrop) in training mode.
    """

    def __init__(self, attn: Attention, mlp: Module, attn_norm: RMSNorm | LayerNorm,
                 mlp_norm: RMSNorm | LayerNorm, dropout: float = 0.0) -> None:
        super().__init__()
        self.attn_norm = attn_norm
        self.attn = attn
        self.mlp_norm = mlp_norm
        self.mlp = mlp
        self.dropout = Dropout(dropout) if dropout > 0 else None

    def forward(self, x: Tensor, inputs: AttentionInputs, cache: LayerKV | None = None) -> Tensor:
        h = self.attn(self.attn_norm(x), inputs, cache)
        x = x + (self.dropout(h) if self.dropout is not None else h)
        h = self.mlp(self.mlp_norm(x))
        return x + (self.dropout(h) if self.dropout is not None else h)


__all__ = [
    "Attention",
    "AttentionInputs",
    "GatedMLP",
    "KVCache",
    "LayerKV",
    "MLP",
    "RotaryEmbedding",
    "TransformerBlock",
    "rope_cos_sin",
    "rope_inv_freq",
]
