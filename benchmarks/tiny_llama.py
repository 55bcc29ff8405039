"""A Llama-style LM in plain PyTorch, the twin of `ttcustom.models.LlamaForCausalLM`.

`TorchLM` is written with torch.nn only (pre-norm blocks with RMSNorm, GQA attention
with RoPE, SwiGLU MLP, untied LM head) and uses ttcustom's parameter names, so one
state dict loads into both. `TcLM` is ttcustom's own Llama with the same call
signature. The benchmarks time them against each other; the training-parity test
compares their loss curves.

Both `forward(ids, labels)` return the mean cross entropy of the logits at each position
against `labels` at the same position (labels already aligned: shift them beforehand).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as TF

import ttcustom.functional as F
from ttcustom.models import LlamaForCausalLM, ModelConfig
from ttcustom.nn import init


@dataclass(frozen=True)
class Shape:
    vocab: int = 256
    dim: int = 256
    heads: int = 8
    kv_heads: int = 8
    layers: int = 6
    mlp: int = 768
    seq: int = 256
    norm_eps: float = 1e-6
    rope_theta: float = 10000.0

    @property
    def head_dim(self) -> int:
        return self.dim // self.heads

    def model_config(self) -> ModelConfig:
        """The same architecture as a `ttcustom.models.ModelConfig` (Llama)."""
        return ModelConfig(
            model_type="llama", vocab_size=self.vocab, hidden_size=self.dim,
            intermediate_size=self.mlp, num_hidden_layers=self.layers,
            num_attention_heads=self.heads, num_key_value_heads=self.kv_heads,
            max_position_embeddings=max(self.seq, 2048), norm_eps=self.norm_eps,
            rope_theta=self.rope_theta,
        )


def rope_tables(shape: Shape) -> tuple[torch.Tensor, torch.Tensor]:
    inv = 1.0 / (shape.rope_theta ** (torch.arange(0, shape.head_dim, 2).float() / shape.head_dim))
    emb = torch.outer(torch.arange(shape.seq).float(), inv).repeat(1, 2)
    return emb.cos(), emb.sin()


def _linear(fan_in: int, fan_out: int) -> torch.nn.Linear:
    return torch.nn.Linear(fan_in, fan_out, bias=False)


class TorchAttention(torch.nn.Module):
    def __init__(self, shape: Shape):
        super().__init__()
        self.shape = shape
        kv = shape.kv_heads * shape.head_dim
        self.q_proj, self.k_proj = _linear(shape.dim, shape.dim), _linear(shape.dim, kv)
        self.v_proj, self.o_proj = _linear(shape.dim, kv), _linear(shape.dim, shape.dim)

    def forward(self, h, cos, sin):
        b, s, _ = h.shape
        sh, hd = self.shape, self.shape.head_dim
        q = self.q_proj(h).view(b, s, sh.heads, hd).transpose(1, 2)
        k = self.k_proj(h).view(b, s, sh.kv_heads, hd).transpose(1, 2)
        v = self.v_proj(h).view(b, s, sh.kv_heads, hd).transpose(1, 2)
        rot = lambda t: torch.cat((-t[..., hd // 2:], t[..., : hd // 2]), -1)  # noqa: E731
        q, k = q * cos + rot(q) * sin, k * cos + rot(k) * sin
        out = TF.scaled_dot_product_attention(q, k, v, is_causal=True,
                                              enable_gqa=sh.kv_heads != sh.heads)
        return self.o_proj(out.transpose(1, 2).reshape(b, s, sh.dim))


class TorchMLP(torch.nn.Module):
    def __init__(self, shape: Shape):
        super().__init__()
        self.gate_proj, self.up_proj = _linear(shape.dim, shape.mlp), _linear(shape.dim, shape.mlp)
        self.down_proj = _linear(shape.mlp, shape.dim)

    def forward(self, h):
        return self.down_proj(TF.silu(self.gate_proj(h)) * self.up_proj(h))


class TorchBlock(torch.nn.Module):
    def __init__(self, shape: Shape):
        super().__init__()
        self.attn_norm = torch.nn.RMSNorm(shape.dim, eps=shape.norm_eps)
        self.attn = TorchAttention(shape)
        self.mlp_norm = torch.nn.RMSNorm(shape.dim, eps=shape.norm_eps)
        self.mlp = TorchMLP(shape)

    def forward(self, x, cos, sin):
        x = x + self.attn(self.attn_norm(x), cos, sin)
        return x + self.mlp(self.mlp_norm(x))


class TorchLM(torch.nn.Module):
    def __init__(self, shape: Shape):
        super().__init__()
        self.shape = shape
        self.embed_tokens = torch.nn.Embedding(shape.vocab, shape.dim)
        self.layers = torch.nn.ModuleList([TorchBlock(shape) for _ in range(shape.layers)])
        self.norm = torch.nn.RMSNorm(shape.dim, eps=shape.norm_eps)
        self.lm_head = _linear(shape.dim, shape.vocab)
        cos, sin = rope_tables(shape)
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)

    def forward(self, ids, labels):
        x = self.embed_tokens(ids)
        for block in self.layers:
            x = block(x, self.cos, self.sin)
        logits = self.lm_head(self.norm(x))
        return TF.cross_entropy(logits.reshape(-1, self.shape.vocab), labels.reshape(-1))


class TcLM(LlamaForCausalLM):
    """`ttcustom.models.LlamaForCausalLM` of `shape`, called like `TorchLM`."""

    def __init__(self, shape: Shape):
        with init.skip_init():
            super().__init__(shape.model_config())
        self.init_weights()
        self.shape = shape

    def forward(self, ids, labels):
        logits = super().forward(ids).logits
        return F.cross_entropy(logits.reshape(-1, self.shape.vocab), labels.reshape(-1))


def paired_models(shape: Shape) -> tuple[TcLM, TorchLM]:
    """The two implementations holding the same initial weights."""
    theirs = TorchLM(shape)
    ours = TcLM(shape)
    ours.load_state_dict({k: v.detach() for k, v in theirs.state_dict().items()})
    return ours, theirs


__all__ = ["Shape", "TcLM", "TorchLM", "paired_models", "rope_tables"]
