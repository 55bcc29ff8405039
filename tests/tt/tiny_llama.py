"""A 2-layer Llama-style causal LM built from ttcustom.nn pieces, for whole-step tests.

RMSNorm, GQA attention with HF rotary embeddings (head dim 64: the fused rotary kernel
applies), SwiGLU MLP, untied LM head, shifted cross entropy with ignore_index.
Sizes are not tile multiples (vocab 100, sequence 20) so padding stays exercised.
"""

from __future__ import annotations

import torch

import ttcustom as tc
from ttcustom import functional as F
from ttcustom import nn


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int, kv_heads: int, device, dtype) -> None:
        super().__init__()
        self.heads, self.kv_heads, self.head_dim = heads, kv_heads, dim // heads
        self.q_proj = nn.Linear(dim, dim, bias=False, device=device, dtype=dtype)
        self.k_proj = nn.Linear(dim, kv_heads * self.head_dim, bias=False, device=device,
                                dtype=dtype)
        self.v_proj = nn.Linear(dim, kv_heads * self.head_dim, bias=False, device=device,
                                dtype=dtype)
        self.o_proj = nn.Linear(dim, dim, bias=False, device=device, dtype=dtype)

    def _split(self, x: tc.Tensor, heads: int) -> tc.Tensor:
        batch, seq, _ = x.shape
        return x.reshape(batch, seq, heads, self.head_dim).transpose(1, 2)

    def forward(self, x, cos, sin, mask):
        batch, seq, dim = x.shape
        q = F.rotary_embedding(self._split(self.q_proj(x), self.heads), cos, sin)
        k = F.rotary_embedding(self._split(self.k_proj(x), self.kv_heads), cos, sin)
        v = self._split(self.v_proj(x), self.kv_heads)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=True)
        return self.o_proj(out.transpose(1, 2).reshape(batch, seq, dim))


class Block(nn.Module):
    def __init__(self, dim: int, heads: int, kv_heads: int, hidden: int, device, dtype) -> None:
        super().__init__()
        self.input_layernorm = nn.RMSNorm(dim, eps=1e-5, device=device, dtype=dtype)
        self.self_attn = Attention(dim, heads, kv_heads, device, dtype)
        self.post_attention_layernorm = nn.RMSNorm(dim, eps=1e-5, device=device, dtype=dtype)
        self.gate_proj = nn.Linear(dim, hidden, bias=False, device=device, dtype=dtype)
        self.up_proj = nn.Linear(dim, hidden, bias=False, device=device, dtype=dtype)
        self.down_proj = nn.Linear(hidden, dim, bias=False, device=device, dtype=dtype)

    def forward(self, x, cos, sin, mask):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, mask)
        h = self.post_attention_layernorm(x)
        return x + self.down_proj(F.swiglu(self.gate_proj(h), self.up_proj(h)))


class TinyLlama(nn.Module):
    def __init__(self, vocab: int = 100, dim: int = 128, layers: int = 2, heads: int = 2,
                 kv_heads: int = 1, hidden: int = 192, max_seq: int = 64,
                 device=None, dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        self.embed_tokens = nn.Embedding(vocab, dim, device=device, dtype=dtype)
        self.layers = nn.ModuleList(Block(dim, heads, kv_heads, hidden, device, dtype)
                                    for _ in range(layers))
        self.norm = nn.RMSNorm(dim, eps=1e-5, device=device, dtype=dtype)
        self.lm_head = nn.Linear(dim, vocab, bias=False, device=device, dtype=dtype)
        head_dim = dim // heads
        inv_freq = 1.0 / 10000 ** (torch.arange(0, head_dim, 2).float() / head_dim)
        angles = torch.outer(torch.arange(max_seq).float(), inv_freq).repeat(1, 2)
        self.register_buffer("cos", tc.tensor(angles.cos(), dtype=dtype, backend=device), False)
        self.register_buffer("sin", tc.tensor(angles.sin(), dtype=dtype, backend=device), False)

    def forward(self, input_ids: tc.Tensor, labels: tc.Tensor,
                attention_mask: tc.Tensor | None = None) -> tc.Tensor:
        batch, seq = input_ids.shape
        x = self.embed_tokens(input_ids)
        cos, sin = self.cos[:seq], self.sin[:seq]
        mask = attention_mask[:, None, None, :] if attention_mask is not None else None
        for layer in self.layers:
            x = layer(x, cos, sin, mask)
        logits = self.lm_head(self.norm(x))
        vocab = logits.shape[-1]
        shifted = logits[:, :-1].reshape(batch * (seq - 1), vocab)
        return F.cross_entropy(shifted, labels[:, 1:].reshape(batch * (seq - 1)))
