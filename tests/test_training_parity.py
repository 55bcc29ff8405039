"""Whole training runs: ttcustom and plain PyTorch, same init and data, same loss curve."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as TF

import ttcustom as tc
import ttcustom.functional as F
from benchmarks.tiny_llama import Shape, paired_models

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


SMALL = Shape(vocab=50, dim=32, heads=4, kv_heads=2, layers=2, mlp=64, seq=12)


def test_two_block_transformer_trains_to_the_same_loss_curve_as_pytorch():
    ours, theirs = paired_models(SMALL)
    g = torch.Generator().manual_seed(0)
    batches = []
    for _ in range(STEPS):
        ids = torch.randint(0, SMALL.vocab, (4, SMALL.seq), generator=g)
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
