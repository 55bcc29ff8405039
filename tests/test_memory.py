"""Memory: what the autograd graph keeps alive, and the planner's estimate of it."""

from __future__ import annotations

import gc
import weakref

import torch

import ttcustom as tc
import ttcustom.functional as F


def _is_freed_after_forward(weight_requires_grad: bool) -> bool:
    leaf = tc.randn(4, 8, requires_grad=True)
    x = leaf * 2.0  # an activation: only the graph can keep it alive
    weight = tc.randn(3, 8, requires_grad=weight_requires_grad)
    out = F.linear(x, weight)
    probe = weakref.ref(x.data)
    del x
    gc.collect()
    freed = probe() is None
    out.sum().backward()
    return freed


def test_frozen_linear_frees_its_input_like_torch():
    assert _is_freed_after_forward(weight_requires_grad=False)
    assert not _is_freed_after_forward(weight_requires_grad=True)


def test_frozen_linear_still_passes_the_input_gradient():
    x = torch.randn(4, 8)
    weight = torch.randn(3, 8)
    ours = tc.tensor(x, requires_grad=True)
    F.linear(ours, tc.tensor(weight)).sum().backward()
    ref = x.clone().requires_grad_()
    torch.nn.functional.linear(ref, weight).sum().backward()
    torch.testing.assert_close(ours.grad.to_torch(), ref.grad)
