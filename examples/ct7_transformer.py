"""CT-7: a decoder-only transformer assembled from ttcustom.nn pieces, every shape checked.

    python examples/ct7_transformer.py

Prints the parameters of each part, one forward pass with the shape of every
intermediate, then trains on a repeated sentence until it can continue it. The shape
comments are executable: `expect()` fails if a tensor does not have the annotated shape.
Set TTCUSTOM_EXAMPLE_FAST=1 for a shorter run (the test suite does).
Lesson: docs/lessons/ct7-architecture.md
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import torch

import ttcustom as tc
import ttcustom.functional as F
from ttcustom import nn

FAST = os.environ.get("TTCUSTOM_EXAMPLE_FAST") == "1"
SHOW_SHAPES = False  # main() turns this on for one forward pass
_shown: set[str] = set()


@dataclass
class Config:
    vocab_size: int = 256  # V: one token per byte, no tokenizer to train
    dim: int = 128  # D: width of the residual stream
    n_layers: int = 4
    n_heads: int = 4  # H query heads
    n_kv_heads: int = 2  # Hkv key/value heads: 2 query heads share one (grouped-query attention)
    mlp_dim: int = 384  # F: hidden width of the feed-forward network
    max_seq_len: int = 128
    rope_theta: float = 10000.0

    @property
    def head_dim(self) -> int:  # Dh
        return self.dim // self.n_heads


def expect(t: tc.Tensor, shape: tuple[int, ...], what: str) -> tc.Tensor:
    """Check `t` has the annotated shape; print it during the walk-through pass."""
    if t.shape != shape:
        raise AssertionError(f"{what}: expected shape {shape}, got {t.shape}")
    if SHOW_SHAPES and what not in _shown:  # each line once: the blocks repeat it
        _shown.add(what)
        print(f"  {what:<42} {list(t.shape)}")
    return t


def rope_tables(cfg: Config) -> tuple[torch.Tensor, torch.Tensor]:
    """cos, sin [max_seq_len, Dh]: the angle of each position for each pair of dims."""
    inv_freq = 1.0 / cfg.rope_theta ** (torch.arange(0, cfg.head_dim, 2).float() / cfg.head_dim)
    angles = torch.outer(torch.arange(cfg.max_seq_len).float(), inv_freq)  # [S_max, Dh/2]
    angles = torch.cat([angles, angles], dim=-1)  # [S_max, Dh] (HF "rotate_half" layout)
    return angles.cos(), angles.sin()


class Attention(nn.Module):
    """Causal self-attention: every position mixes in the positions before it."""

    def __init__(self, cfg: Config) -> None:
        super().__init__()
        self.cfg = cfg
        dh = cfg.head_dim
        self.q_proj = nn.Linear(cfg.dim, cfg.n_heads * dh, bias=False)  # D -> H*Dh
        self.k_proj = nn.Linear(cfg.dim, cfg.n_kv_heads * dh, bias=False)  # D -> Hkv*Dh
        self.v_proj = nn.Linear(cfg.dim, cfg.n_kv_heads * dh, bias=False)  # D -> Hkv*Dh
        self.o_proj = nn.Linear(cfg.n_heads * dh, cfg.dim, bias=False)  # H*Dh -> D

    def forward(self, x: tc.Tensor, cos: tc.Tensor, sin: tc.Tensor) -> tc.Tensor:
        cfg, (b, s, d) = self.cfg, x.shape
        h, hkv, dh = cfg.n_heads, cfg.n_kv_heads, cfg.head_dim
        # Split the projections into heads and move heads before the sequence.
        q = self.q_proj(x).reshape(b, s, h, dh).transpose(1, 2)
        k = self.k_proj(x).reshape(b, s, hkv, dh).transpose(1, 2)
        v = self.v_proj(x).reshape(b, s, hkv, dh).transpose(1, 2)
        expect(q, (b, h, s, dh), "attn: queries [B, H, S, Dh]")
        expect(k, (b, hkv, s, dh), "attn: keys    [B, Hkv, S, Dh]")
        # Rotary embedding: position enters by rotating q and k, not by adding to x.
        q, k = F.rotary_embedding(q, cos, sin), F.rotary_embedding(k, cos, sin)
        # softmax(q k^T / sqrt(Dh) + causal mask) v, each K/V head serving H/Hkv queries.
        out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        expect(out, (b, h, s, dh), "attn: weighted values [B, H, S, Dh]")
        out = out.transpose(1, 2).reshape(b, s, h * dh)  # heads side by side again
        return expect(self.o_proj(out), (b, s, d), "attn: output [B, S, D]")


class FeedForward(nn.Module):
    """SwiGLU MLP: down(silu(gate(x)) * up(x)), applied to each position alone."""

    def __init__(self, cfg: Config) -> None:
        super().__init__()
        self.gate_proj = nn.Linear(cfg.dim, cfg.mlp_dim, bias=False)  # D -> F
        self.up_proj = nn.Linear(cfg.dim, cfg.mlp_dim, bias=False)  # D -> F
        self.down_proj = nn.Linear(cfg.mlp_dim, cfg.dim, bias=False)  # F -> D

    def forward(self, x: tc.Tensor) -> tc.Tensor:
        b, s, _ = x.shape
        hidden = F.swiglu(self.gate_proj(x), self.up_proj(x))
        expect(hidden, (b, s, self.down_proj.in_features), "mlp: hidden [B, S, F]")
        return self.down_proj(hidden)


class Block(nn.Module):
    """Pre-norm residual block: x + attn(norm(x)), then x + mlp(norm(x))."""

    def __init__(self, cfg: Config) -> None:
        super().__init__()
        self.attn_norm = nn.RMSNorm(cfg.dim)
        self.attn = Attention(cfg)
        self.mlp_norm = nn.RMSNorm(cfg.dim)
        self.mlp = FeedForward(cfg)

    def forward(self, x: tc.Tensor, cos: tc.Tensor, sin: tc.Tensor) -> tc.Tensor:
        x = x + self.attn(self.attn_norm(x), cos, sin)  # [B, S, D]
        return x + self.mlp(self.mlp_norm(x))  # [B, S, D]


class TinyTransformer(nn.Module):
    """Token ids [B, S] -> next-token logits [B, S, V]; the output head shares the embedding."""

    def __init__(self, cfg: Config) -> None:
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.dim)  # V x D lookup table
        self.blocks = nn.ModuleList([Block(cfg) for _ in range(cfg.n_layers)])
        self.norm = nn.RMSNorm(cfg.dim)
        self.lm_head = nn.Linear(cfg.dim, cfg.vocab_size, bias=False)  # D -> V
        self.lm_head.weight = self.embed.weight  # tied: one V x D matrix in and out
        cos, sin = rope_tables(cfg)
        self.register_buffer("cos", tc.tensor(cos), persistent=False)
        self.register_buffer("sin", tc.tensor(sin), persistent=False)
        # Small weights (std 0.02, as GPT-2 and Llama) keep the first logits near zero,
        # so the untrained model guesses uniformly: initial loss ~ ln(V).
        for param in self.parameters():
            if param.ndim == 2:
                nn.init.normal_(param, 0.0, 0.02)

    def forward(self, ids: tc.Tensor) -> tc.Tensor:
        b, s = ids.shape
        cfg = self.cfg
        x = expect(self.embed(ids), (b, s, cfg.dim), "embed: token vectors [B, S, D]")
        cos, sin = self.cos[:s], self.sin[:s]  # [S, Dh], broadcast over batch and heads
        for block in self.blocks:
            x = block(x, cos, sin)
            expect(x, (b, s, cfg.dim), "block: residual stream [B, S, D]")
        return expect(self.lm_head(self.norm(x)), (b, s, cfg.vocab_size), "logits [B, S, V]")


def lm_loss(model: TinyTransformer, ids: tc.Tensor) -> tc.Tensor:
    """Mean cross entropy of predicting token t+1 from tokens 0..t."""
    logits = model(ids[:, :-1])  # [B, S-1, V]
    vocab = logits.shape[-1]
    return F.cross_entropy(logits.reshape(-1, vocab), ids[:, 1:].reshape(-1))


def parameter_table(model: TinyTransformer) -> list[tuple[str, int]]:
    """(part, parameter count); the tied output head is counted once, with the embedding."""
    parts = [("embedding (tied with lm_head)", model.embed),
             ("one block: attention", model.blocks[0].attn),
             ("one block: feed-forward", model.blocks[0].mlp),
             ("one block: 2 RMSNorms", nn.ModuleList([model.blocks[0].attn_norm,
                                                      model.blocks[0].mlp_norm])),
             (f"all {len(model.blocks)} blocks", model.blocks),
             ("final norm", model.norm)]
    rows = [(name, sum(p.numel() for p in module.parameters())) for name, module in parts]
    return rows + [("total", sum(p.numel() for p in model.parameters()))]


def batches(text: bytes, batch: int, seq: int, generator: torch.Generator):
    """Random windows of `seq + 1` bytes (inputs and shifted targets), forever."""
    data = torch.tensor(list(text), dtype=torch.int64)
    while True:
        starts = torch.randint(0, len(data) - seq - 1, (batch,), generator=generator)
        yield tc.tensor(torch.stack([data[i:i + seq + 1] for i in starts.tolist()]))


@tc.no_grad()
def continue_text(model: TinyTransformer, prompt: bytes, new_tokens: int) -> bytes:
    """Greedy decoding: append the most likely next byte, `new_tokens` times."""
    ids = list(prompt)
    for _ in range(new_tokens):
        window = ids[-model.cfg.max_seq_len:]
        logits = model(tc.tensor([window]))  # [1, S, V]
        ids.append(int(logits[0, -1].to_torch().argmax()))
    return bytes(ids)


def main() -> None:
    global SHOW_SHAPES
    tc.manual_seed(0)
    cfg = Config()
    model = TinyTransformer(cfg)
    print("parameters:")
    for name, count in parameter_table(model):
        print(f"  {name:<32} {count:>9,}")

    text = b"the trickster explains gradients with stories. " * 64
    batch, seq = 8, 64
    data = batches(text, batch, seq, torch.Generator().manual_seed(0))
    print(f"\nshapes of one forward pass (B={batch}, S={seq}, V={cfg.vocab_size}):")
    SHOW_SHAPES = True
    with tc.no_grad():
        loss = lm_loss(model, next(data))
    SHOW_SHAPES = False
    print(f"\ninitial loss {loss.item():.3f} (uniform guess over V bytes: ln V = "
          f"{math.log(cfg.vocab_size):.3f})")

    steps = 40 if FAST else 150
    opt = tc.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
    first = None
    for step in range(1, steps + 1):
        loss = lm_loss(model, next(data))
        loss.backward()
        tc.optim.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad()
        first = loss.item() if first is None else first
        if step % 10 == 0 or step == steps:
            print(f"step {step:>4}  loss {loss.item():.3f}")
    final = loss.item()
    print(f"\nloss {first:.3f} -> {final:.3f}")
    sample = continue_text(model, b"the trickster ", 30)
    print(f"sample: {sample.decode('utf-8', errors='replace')!r}")
    if not final < first / 2:
        raise SystemExit(f"training did not converge: loss {first:.3f} -> {final:.3f}")


if __name__ == "__main__":
    main()
