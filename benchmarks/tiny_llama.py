"""A Llama-style LM written twice: plain PyTorch and ttcustom, identical math and names.

Used by the step benchmark (speed ratio) and by the training-parity test (loss curves).
Pre-norm blocks with RMSNorm, GQA attention with RoPE, SwiGLU MLP, untied LM head.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as TF

import ttcustom as tc
import ttcustom.functional as F


@dataclass(frozen=True)
class Shape:
    vocab: int = 256
    dim: int = 256
    heads: int = 8
    kv_heads: int = 8
    layers: int = 6
    mlp: int = 768
    seq: int = 256

    @property
    def head_dim(self) -> int:
        return self.dim // self.heads


def rope_tables(shape: Shape) -> tuple[torch.Tensor, torch.Tensor]:
    inv = 1.0 / (10000 ** (torch.arange(0, shape.head_dim, 2).float() / shape.head_dim))
    emb = torch.outer(torch.arange(shape.seq).float(), inv).repeat(1, 2)
    return emb.cos(), emb.sin()


def _layers(nn, shape: Shape) -> dict:
    """The block's sub-layers, built from either torch.nn or ttcustom.nn."""
    kv = shape.kv_heads * shape.head_dim
    return dict(
        attn_norm=nn.RMSNorm(shape.dim, eps=1e-6),
        q=nn.Linear(shape.dim, shape.dim, bias=False),
        k=nn.Linear(shape.dim, kv, bias=False),
        v=nn.Linear(shape.dim, kv, bias=False),
        o=nn.Linear(shape.dim, shape.dim, bias=False),
        mlp_norm=nn.RMSNorm(shape.dim, eps=1e-6),
        gate=nn.Linear(shape.dim, shape.mlp, bias=False),
        up=nn.Linear(shape.dim, shape.mlp, bias=False),
        down=nn.Linear(shape.mlp, shape.dim, bias=False),
    )


class TorchBlock(torch.nn.Module):
    def __init__(self, shape: Shape):
        super().__init__()
        self.shape = shape
        for name, layer in _layers(torch.nn, shape).items():
            setattr(self, name, layer)

    def forward(self, x, cos, sin):
        b, s, _ = x.shape
        hd, sh = self.shape.head_dim, self.shape
        h = self.attn_norm(x)
        q = self.q(h).view(b, s, sh.heads, hd).transpose(1, 2)
        k = self.k(h).view(b, s, sh.kv_heads, hd).transpose(1, 2)
        v = self.v(h).view(b, s, sh.kv_heads, hd).transpose(1, 2)
        rot = lambda t: torch.cat((-t[..., hd // 2:], t[..., : hd // 2]), -1)  # noqa: E731
        q, k = q * cos + rot(q) * sin, k * cos + rot(k) * sin
        attn = TF.scaled_dot_product_attention(q, k, v, is_causal=True,
                                               enable_gqa=sh.kv_heads != sh.heads)
        x = x + self.o(attn.transpose(1, 2).reshape(b, s, sh.dim))
        h = self.mlp_norm(x)
        return x + self.down(TF.silu(self.gate(h)) * self.up(h))


class TcBlock(tc.nn.Module):
    def __init__(self, shape: Shape):
        super().__init__()
        self.shape = shape
        for name, layer in _layers(tc.nn, shape).items():
            setattr(self, name, layer)

    def forward(self, x, cos, sin):
        b, s, _ = x.shape
        hd, sh = self.shape.head_dim, self.shape
        h = self.attn_norm(x)
        q = self.q(h).reshape(b, s, sh.heads, hd).transpose(1, 2)
        k = self.k(h).reshape(b, s, sh.kv_heads, hd).transpose(1, 2)
        v = self.v(h).reshape(b, s, sh.kv_heads, hd).transpose(1, 2)
        q, k = F.rotary_embedding(q, cos, sin), F.rotary_embedding(k, cos, sin)
        attn = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.o(attn.transpose(1, 2).reshape(b, s, sh.dim))
        h = self.mlp_norm(x)
        return x + self.down(F.swiglu(self.gate(h), self.up(h)))


class TorchLM(torch.nn.Module):
    def __init__(self, shape: Shape):
        super().__init__()
        self.shape = shape
        self.embed = torch.nn.Embedding(shape.vocab, shape.dim)
        self.blocks = torch.nn.ModuleList([TorchBlock(shape) for _ in range(shape.layers)])
        self.norm = torch.nn.RMSNorm(shape.dim, eps=1e-6)
        self.head = torch.nn.Linear(shape.dim, shape.vocab, bias=False)
        self.cos, self.sin = rope_tables(shape)

    def forward(self, ids, labels):
        x = self.embed(ids)
        for block in self.blocks:
            x = block(x, self.cos, self.sin)
        logits = self.head(self.norm(x))
        return TF.cross_entropy(logits.reshape(-1, self.shape.vocab), labels.reshape(-1))


class TcLM(tc.nn.Module):
    def __init__(self, shape: Shape):
        super().__init__()
        self.shape = shape
        self.embed = tc.nn.Embedding(shape.vocab, shape.dim)
        self.blocks = tc.nn.ModuleList([TcBlock(shape) for _ in range(shape.layers)])
        self.norm = tc.nn.RMSNorm(shape.dim, eps=1e-6)
        self.head = tc.nn.Linear(shape.dim, shape.vocab, bias=False)
        cos, sin = rope_tables(shape)
        self.register_buffer("cos", tc.tensor(cos), persistent=False)
        self.register_buffer("sin", tc.tensor(sin), persistent=False)

    def forward(self, ids, labels):
        x = self.embed(ids)
        for block in self.blocks:
            x = block(x, self.cos, self.sin)
        logits = self.head(self.norm(x))
        return F.cross_entropy(logits.reshape(-1, self.shape.vocab), labels.reshape(-1))


def paired_models(shape: Shape) -> tuple[TcLM, TorchLM]:
    """The two implementations holding the same initial weights."""
    theirs = TorchLM(shape)
    ours = TcLM(shape)
    ours.load_state_dict({k: v.detach() for k, v in theirs.state_dict().items()})
    return ours, theirs
