"""Whole training runs: ttcustom and plain PyTorch, same init and data, same loss curve."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as TF

import ttcustom as tc
import ttcustom.functional as F

STEPS = 50
CURVE_TOL = 1e-4


def _copy_weights(ours: tc.nn.Module, theirs: torch.nn.Module) -> None:
    ours.load_state_dict({k: v.detach() for k, v in theirs.state_dict().items()})


def _run_both(ours, theirs, batches, loss_tc, loss_torch, make_opts):
    tc_opt, torch_opt = make_opts(ours, theirs)
    curve, ref_curve = [], []
    for batch in batches:
        loss = loss_tc(ours, *[tc.tensor(b) for b in batch])
        loss.backward()
        tc.optim.clip_grad_norm_(ours.parameters(), 1.0)
        tc_opt.step()
        tc_opt.zero_grad()
        curve.append(loss.item())

        ref = loss_torch(theirs, *batch)
        ref.backward()
        torch.nn.utils.clip_grad_norm_(theirs.parameters(), 1.0)
        torch_opt.step()
        torch_opt.zero_grad()
        ref_curve.append(ref.item())
    return curve, ref_curve


def _adamw(ours, theirs):
    return (tc.optim.AdamW(ours.parameters(), lr=3e-3, weight_decay=0.01),
            torch.optim.AdamW(theirs.parameters(), lr=3e-3, weight_decay=0.01))


def test_mlp_trains_to_the_same_loss_curve_as_pytorch():
    theirs = torch.nn.Sequential(torch.nn.Linear(10, 32), torch.nn.GELU(), torch.nn.Linear(32, 4))
    ours = tc.nn.Sequential(tc.nn.Linear(10, 32), tc.nn.GELU(), tc.nn.Linear(32, 4))
    _copy_weights(ours, theirs)
    g = torch.Generator().manual_seed(0)
    teacher = torch.randn(10, 4, generator=g)
    inputs = [torch.randn(16, 10, generator=g) for _ in range(STEPS)]
    batches = [(x, (x @ teacher).argmax(-1)) for x in inputs]
    curve, ref = _run_both(ours, theirs, batches,
                           lambda m, x, y: F.cross_entropy(m(x), y),
                           lambda m, x, y: TF.cross_entropy(m(x), y), _adamw)
    assert max(abs(a - b) for a, b in zip(curve, ref)) < CURVE_TOL
    assert curve[-1] < curve[0]


DIM, HEADS, KV_HEADS, VOCAB, SEQ = 32, 4, 2, 50, 12


def _rope(seq, dim):
    inv = 1.0 / (10000 ** (torch.arange(0, dim, 2).float() / dim))
    emb = torch.outer(torch.arange(seq).float(), inv).repeat(1, 2)
    return emb.cos(), emb.sin()


class TorchBlock(torch.nn.Module):
    """A pre-norm Llama-style block in plain PyTorch (GQA, RoPE, SwiGLU)."""

    def __init__(self):
        super().__init__()
        hd = DIM // HEADS
        self.attn_norm = torch.nn.RMSNorm(DIM, eps=1e-6)
        self.q = torch.nn.Linear(DIM, DIM, bias=False)
        self.k = torch.nn.Linear(DIM, KV_HEADS * hd, bias=False)
        self.v = torch.nn.Linear(DIM, KV_HEADS * hd, bias=False)
        self.o = torch.nn.Linear(DIM, DIM, bias=False)
        self.mlp_norm = torch.nn.RMSNorm(DIM, eps=1e-6)
        self.gate = torch.nn.Linear(DIM, 64, bias=False)
        self.up = torch.nn.Linear(DIM, 64, bias=False)
        self.down = torch.nn.Linear(64, DIM, bias=False)

    def forward(self, x, cos, sin):
        b, s, _ = x.shape
        hd = DIM // HEADS
        h = self.attn_norm(x)
        q = self.q(h).view(b, s, HEADS, hd).transpose(1, 2)
        k = self.k(h).view(b, s, KV_HEADS, hd).transpose(1, 2)
        v = self.v(h).view(b, s, KV_HEADS, hd).transpose(1, 2)
        rot = lambda t: torch.cat((-t[..., hd // 2:], t[..., : hd // 2]), -1)  # noqa: E731
        q, k = q * cos + rot(q) * sin, k * cos + rot(k) * sin
        attn = TF.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
        x = x + self.o(attn.transpose(1, 2).reshape(b, s, DIM))
        h = self.mlp_norm(x)
        return x + self.down(TF.silu(self.gate(h)) * self.up(h))


class TcBlock(tc.nn.Module):
    """The same block from ttcustom.nn pieces and ttcustom.functional."""

    def __init__(self):
        super().__init__()
        hd = DIM // HEADS
        self.attn_norm = tc.nn.RMSNorm(DIM, eps=1e-6)
        self.q = tc.nn.Linear(DIM, DIM, bias=False)
        self.k = tc.nn.Linear(DIM, KV_HEADS * hd, bias=False)
        self.v = tc.nn.Linear(DIM, KV_HEADS * hd, bias=False)
        self.o = tc.nn.Linear(DIM, DIM, bias=False)
        self.mlp_norm = tc.nn.RMSNorm(DIM, eps=1e-6)
        self.gate = tc.nn.Linear(DIM, 64, bias=False)
        self.up = tc.nn.Linear(DIM, 64, bias=False)
        self.down = tc.nn.Linear(64, DIM, bias=False)

    def forward(self, x, cos, sin):
        b, s, _ = x.shape
        hd = DIM // HEADS
        h = self.attn_norm(x)
        q = self.q(h).reshape(b, s, HEADS, hd).transpose(1, 2)
        k = self.k(h).reshape(b, s, KV_HEADS, hd).transpose(1, 2)
        v = self.v(h).reshape(b, s, KV_HEADS, hd).transpose(1, 2)
        q, k = F.rotary_embedding(q, cos, sin), F.rotary_embedding(k, cos, sin)
        attn = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.o(attn.transpose(1, 2).reshape(b, s, DIM))
        h = self.mlp_norm(x)
        return x + self.down(F.swiglu(self.gate(h), self.up(h)))


class TorchLM(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(VOCAB, DIM)
        self.blocks = torch.nn.ModuleList([TorchBlock(), TorchBlock()])
        self.norm = torch.nn.RMSNorm(DIM, eps=1e-6)
        self.head = torch.nn.Linear(DIM, VOCAB, bias=False)
        self.cos, self.sin = _rope(SEQ, DIM // HEADS)

    def forward(self, ids, labels):
        x = self.embed(ids)
        for block in self.blocks:
            x = block(x, self.cos, self.sin)
        logits = self.head(self.norm(x))
        return TF.cross_entropy(logits.reshape(-1, VOCAB), labels.reshape(-1), ignore_index=-100)


class TcLM(tc.nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = tc.nn.Embedding(VOCAB, DIM)
        self.blocks = tc.nn.ModuleList([TcBlock(), TcBlock()])
        self.norm = tc.nn.RMSNorm(DIM, eps=1e-6)
        self.head = tc.nn.Linear(DIM, VOCAB, bias=False)
        cos, sin = _rope(SEQ, DIM // HEADS)
        self.register_buffer("cos", tc.tensor(cos), persistent=False)
        self.register_buffer("sin", tc.tensor(sin), persistent=False)

    def forward(self, ids, labels):
        x = self.embed(ids)
        for block in self.blocks:
            x = block(x, self.cos, self.sin)
        logits = self.head(self.norm(x))
        return F.cross_entropy(logits.reshape(-1, VOCAB), labels.reshape(-1), ignore_index=-100)


def test_two_block_transformer_trains_to_the_same_loss_curve_as_pytorch():
    theirs, ours = TorchLM(), TcLM()
    _copy_weights(ours, theirs)
    g = torch.Generator().manual_seed(0)
    batches = []
    for _ in range(STEPS):
        ids = torch.randint(0, VOCAB, (4, SEQ), generator=g)
        labels = ids.roll(-1, dims=1)
        labels[:, -1] = -100
        batches.append((ids, labels))
    curve, ref = _run_both(ours, theirs, batches, lambda m, i, y: m(i, y),
                           lambda m, i, y: m(i, y), _adamw)
    assert max(abs(a - b) for a, b in zip(curve, ref)) < CURVE_TOL
    assert curve[-1] < curve[0] - 0.1
    for name, p in ours.state_dict().items():
        torch.testing.assert_close(p.to_torch(), theirs.state_dict()[name], rtol=1e-4, atol=1e-4)
    assert math.isfinite(curve[-1])
