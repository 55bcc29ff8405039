"""F.lora_linear: forward and every gradient against torch.autograd of the plain formula
(float64), on the reference backend; the protocol's composed default against the
reference's torch.addmm primitives; LoRALinear with dropout against the composed layer."""

from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as TF

import ttcustom as tc
import ttcustom.functional as F
from tests.helpers import FP32_TOL, assert_close, grads_of
from ttcustom.backends.base import Backend
from ttcustom.lora import LoRALinear
from ttcustom.nn import Linear

SCALING = 2.5


def _torch_lora(x, w, b, a, b_, mask=None):
    h = x if mask is None else x * mask
    return TF.linear(x, w, b) + TF.linear(TF.linear(h, a) * SCALING, b_)


def _ours(x, w, b, a, b_, mask=None):
    h = None if mask is None else F.mul(x, mask)
    return F.lora_linear(x, w, b, a, b_, SCALING, h)


def _inputs(lead, dropout, bias):
    """x [*lead, 12], W [10, 12], b [10], A [3, 12], B [10, 3] (B not zero), mask."""
    made = [torch.randn(*lead, 12), torch.randn(10, 12), torch.randn(10) if bias else None,
            torch.randn(3, 12), torch.randn(10, 3)]
    if dropout:  # a fixed keep-mask scaled by 1/(1-p): dropout without its generator
        made.append((torch.rand(*lead, 12) > 0.3).float() / 0.7)
    return made


def _run(lead, dropout, bias, trained_base):
    inputs = _inputs(lead, dropout, bias)
    present = [x for x in inputs if x is not None]
    flags = [True, trained_base] + ([trained_base] if bias else []) + [True, True] \
        + ([False] if dropout else [])

    def call(fn):
        def run(*args):
            args = list(args)
            if not bias:
                args.insert(2, None)
            return fn(*args)
        return run

    return grads_of(call(_ours), call(_torch_lora), present, flags), flags


@pytest.mark.parametrize("lead,dropout,bias,trained_base", [
    *itertools.product([(7,), (2, 5)], [False, True], [True], [False]),
    ((2, 5), False, True, True), ((7,), True, False, True), ((7,), False, False, False),
], ids=lambda v: str(v))
def test_forward_and_gradients_match_torch(lead, dropout, bias, trained_base):
    ((out, grads), (ref, ref_grads)), flags = _run(lead, dropout, bias, trained_base)
    assert_close(out, ref, FP32_TOL, "output")
    for i, (g, r, d) in enumerate(zip(grads, ref_grads, flags)):
        assert (g is None) == (not d), f"grad {i}"
        if d:
            assert_close(g, r, FP32_TOL, f"grad {i}")


NEEDS = [n for n in itertools.product([False, True], repeat=6) if any(n)]


@pytest.mark.parametrize("dropped", [False, True], ids=["no_dropout", "dropout"])
def test_default_composition_matches_the_reference_primitives(backend, dropped):
    g = torch.Generator().manual_seed(3)
    x, h = torch.randn(9, 12, generator=g), torch.randn(9, 12, generator=g)
    w, bias = torch.randn(10, 12, generator=g), torch.randn(10, generator=g)
    a, b = torch.randn(3, 12, generator=g), torch.randn(10, 3, generator=g)
    grad = torch.randn(9, 10, generator=g)
    h = h if dropped else None
    y, lora_in = backend.lora_linear(x, w, bias, a, b, SCALING, h)
    y0, lora_in0 = Backend.lora_linear(backend, x, w, bias, a, b, SCALING, h)
    torch.testing.assert_close(y0, y)
    torch.testing.assert_close(lora_in0, lora_in)
    for need in (n for n in NEEDS if dropped or not n[5]):  # d lora_input: dropout only
        ours = backend.lora_linear_backward(grad, x, w, a, b, SCALING, lora_in, h, need)
        default = Backend.lora_linear_backward(backend, grad, x, w, a, b, SCALING, lora_in, h,
                                               need)
        for i, (o, d) in enumerate(zip(ours, default)):
            assert (o is None) == (d is None), (need, i)
            if o is not None:
                torch.testing.assert_close(d, o, msg=f"{need} grad {i}")


def test_layer_with_dropout_matches_the_composed_layer():
    """LoRALinear(dropout=0.3): x for the base, dropout(x) for A, one mask per call."""
    layer = LoRALinear(Linear(12, 10), r=3, alpha=6, dropout=0.3)
    with tc.no_grad():
        layer.lora_B.copy_(tc.randn(10, 3))
    x = tc.randn(4, 6, 12, requires_grad=True)
    upstream = tc.randn(4, 6, 10)
    tc.manual_seed(7)
    y = layer(x)
    y.backward(upstream)
    got = [t.grad.to_torch() for t in (x, layer.lora_A, layer.lora_B)]
    for t in (x, layer.lora_A, layer.lora_B):
        t.grad = None
    tc.manual_seed(7)
    h = layer.dropout(x)
    composed = F.linear(x, layer.weight, layer.bias) + F.linear(
        F.linear(h, layer.lora_A) * layer.scaling, layer.lora_B)
    composed.backward(upstream)
    torch.testing.assert_close(y.to_torch(), composed.to_torch())
    for g, t in zip(got, (x, layer.lora_A, layer.lora_B)):
        torch.testing.assert_close(g, t.grad.to_torch())


@pytest.mark.parametrize("call,match", [
    (lambda: F.lora_linear(tc.randn(12), tc.randn(10, 12), None, tc.randn(3, 12),
                           tc.randn(10, 3), 1.0), r"2\+ dims.*\(12,\)"),
    (lambda: F.lora_linear(tc.randn(4, 12), tc.randn(10, 12), None, tc.randn(3, 11),
                           tc.randn(10, 3), 1.0), r"lora_A \(3, 11\).*expected lora_A \(r, 12\)"),
    (lambda: F.lora_linear(tc.randn(4, 12), tc.randn(10, 12), None, tc.randn(3, 12),
                           tc.randn(10, 4), 1.0), r"lora_B \(10, 4\).*lora_B \(10, r\)"),
    (lambda: F.lora_linear(tc.randn(4, 12), tc.randn(10, 12), None, tc.randn(3, 12),
                           tc.randn(10, 3), 1.0, tc.randn(5, 12)),
     r"lora_input shape \(5, 12\) differs from input shape \(4, 12\)"),
])
def test_bad_shapes_are_named(call, match):
    with pytest.raises(ValueError, match=match):
        call()
