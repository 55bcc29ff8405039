"""F.grouped_linear: forward and every gradient against torch.autograd of the plain
per-member formula (float64) on the reference backend, and a q/k/v use through the
layers' `linear_terms` against the layers called one by one."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch
import torch.nn.functional as TF

import ttcustom as tc
import ttcustom.functional as F
from tests.helpers import FP32_TOL, assert_close
from ttcustom.backends.base import Backend
from ttcustom.lora import LoRALinear
from ttcustom.nn import Linear

IN = 12


@dataclass
class Member:
    out: int
    lora: bool = True
    dropout: bool = False
    trained: bool = False
    bias: bool = False
    scaling: float = 2.5


def _leaves(members, lead, g):
    """Per member {name: torch tensor} (W, b, A, B, a dropout keep-mask) and x."""
    x = torch.randn(*lead, IN, generator=g)
    made = []
    for m in members:
        t = {"weight": torch.randn(m.out, IN, generator=g)}
        if m.bias:
            t["bias"] = torch.randn(m.out, generator=g)
        if m.lora:
            t["lora_A"] = torch.randn(3, IN, generator=g)
            t["lora_B"] = torch.randn(m.out, 3, generator=g)
        if m.dropout:
            t["mask"] = (torch.rand(*lead, IN, generator=g) > 0.3).float() / 0.7
        made.append(t)
    return x, made


def _trains(m, name):
    return name in ("lora_A", "lora_B") or (m.trained and name in ("weight", "bias"))


def _torch_member(x, m, t):
    y = TF.linear(x, t["weight"], t.get("bias"))
    if m.lora:
        h = x * t["mask"] if m.dropout else x
        y = y + TF.linear(TF.linear(h, t["lora_A"]) * m.scaling, t["lora_B"])
    return y


def _ours(x, members, tensors):
    terms = []
    for m, t in zip(members, tensors):
        h = F.mul(x, t["mask"]) if m.dropout else None
        terms.append(F.LinearTerms(t["weight"], t.get("bias"), t.get("lora_A"),
                                   t.get("lora_B"), m.scaling, h))
    return F.grouped_linear(x, terms)


CASES = {
    "qkv_all_lora": ([Member(16), Member(8), Member(8)], (7,)),
    "qkv_lora_on_q_and_v": ([Member(16), Member(8, lora=False), Member(8)], (2, 5)),
    "dropout_on_some": ([Member(16, dropout=True), Member(8), Member(8, dropout=True)], (7,)),
    "trained_base_and_bias": ([Member(16, bias=True), Member(8, trained=True, bias=True),
                               Member(8, lora=False, trained=True)], (2, 5)),
    "plain_linears": ([Member(16, lora=False), Member(8, lora=False, bias=True)], (7,)),
    "one_member_scaling_one": ([Member(10, scaling=1.0)], (7,)),
}


@pytest.mark.parametrize("case", CASES, ids=str)
def test_forward_and_gradients_match_torch(case):
    members, lead = CASES[case]
    x, made = _leaves(members, lead, torch.Generator().manual_seed(1))
    ref_x = x.double().requires_grad_()
    ref = [{k: v.double().requires_grad_(_trains(m, k)) for k, v in t.items()}
           for m, t in zip(members, made)]
    ref_out = torch.cat([_torch_member(ref_x, m, t) for m, t in zip(members, ref)], -1)
    ours_x = tc.tensor(x, requires_grad=True)
    ours = [{k: tc.tensor(v, requires_grad=_trains(m, k)) for k, v in t.items()}
            for m, t in zip(members, made)]
    out = _ours(ours_x, members, ours)
    upstream = torch.randn(ref_out.shape, dtype=torch.float64)
    ref_out.backward(upstream)
    out.backward(tc.tensor(upstream.float()))
    assert_close(out.to_torch(), ref_out.detach(), FP32_TOL, "output")
    assert_close(ours_x.grad.to_torch(), ref_x.grad, FP32_TOL, "d x")
    for i, (m, t, r) in enumerate(zip(members, ours, ref)):
        for name, tensor in t.items():
            if _trains(m, name):
                assert_close(tensor.grad.to_torch(), r[name].grad, FP32_TOL, f"{i} d {name}")
            else:
                assert tensor.grad is None, f"{i} {name}"


def test_layers_terms_match_the_layers_called_one_by_one():
    """An attention-like q/k/v: q and v LoRA (dropout on q), k a plain Linear; the
    input's gradient also gets a second consumer's (a residual)."""
    tc.manual_seed(0)
    q = LoRALinear(Linear(IN, 16), r=4, alpha=8, dropout=0.2)
    k, v = Linear(IN, 8), LoRALinear(Linear(IN, 8), r=4, alpha=8)
    k.requires_grad_(False)
    with tc.no_grad():
        for layer in (q, v):
            layer.lora_B.copy_(tc.randn(*layer.lora_B.shape))
    x = tc.randn(2, 5, IN, requires_grad=True)
    upstream = tc.randn(2, 5, 32)
    trained = [x, q.lora_A, q.lora_B, v.lora_A, v.lora_B]
    got = []
    for grouped in (True, False):
        tc.manual_seed(7)
        if grouped:
            y = F.grouped_linear(x, [m.linear_terms(x) for m in (q, k, v)])
        else:
            y = F.cat([q(x), k(x), v(x)], -1)
        (y * upstream + x.sum()).sum().backward()
        got.append([y.to_torch()] + [t.grad.to_torch() for t in trained])
        for t in trained:
            t.grad = None
    for i, (a, b) in enumerate(zip(*got)):
        torch.testing.assert_close(a, b, msg=f"item {i}")


@pytest.mark.parametrize("terms,match", [
    (lambda: [], "non-empty sequence of LinearTerms"),
    (lambda: [tc.randn(8, IN)], r"LinearTerms, got \['Tensor'\]"),
    (lambda: [F.LinearTerms(tc.randn(8, IN), lora_A=tc.randn(3, IN))],
     "only one of lora_A and lora_B"),
    (lambda: [F.LinearTerms(tc.randn(8, IN + 1))], "expects in_features=13"),
])
def test_bad_terms_are_named(terms, match):
    with pytest.raises(ValueError, match=match):
        F.grouped_linear(tc.randn(4, IN), terms())


NEEDS = [(True, False), (False, True)]  # d x alone; every member gradient alone


@pytest.mark.parametrize("case", CASES, ids=str)
@pytest.mark.parametrize("need_x,need_members", NEEDS, ids=["dx", "members"])
def test_default_composition_matches_the_reference_primitives(backend, case, need_x,
                                                              need_members):
    members, _ = CASES[case]
    g = torch.Generator().manual_seed(3)
    x, made = _leaves(members, (9,), g)
    arrays = tuple((t["weight"], t.get("bias"), t.get("lora_A"), t.get("lora_B"), m.scaling,
                    x * t["mask"] if m.dropout else None) for m, t in zip(members, made))
    need = (need_x, tuple((need_members and m.trained,) * 2 + (need_members and m.lora,) * 2
                          + (need_members and m.dropout,) for m in members))
    grad, into = torch.randn(9, sum(m.out for m in members), generator=g), torch.randn(9, IN)
    y, saved = backend.grouped_linear(x, arrays)
    y0, saved0 = Backend.grouped_linear(backend, x, arrays)
    torch.testing.assert_close(y0, y)
    ours = backend.grouped_linear_backward(grad, x, arrays, saved, need, into=into)
    default = Backend.grouped_linear_backward(backend, grad, x, arrays, saved0, need, into=into)
    assert (ours[0] is None) == (default[0] is None)
    if ours[0] is not None:
        torch.testing.assert_close(default[0], ours[0])
    for i, (o, d) in enumerate(zip((a for m in ours[1] for a in m),
                                   (a for m in default[1] for a in m))):
        assert (o is None) == (d is None), i
        if o is not None:
            torch.testing.assert_close(d, o, msg=f"grad {i}")


@pytest.mark.parametrize("op", ["linear", "lora_linear", "grouped_linear"])
def test_a_layer_used_twice_gets_both_gradients(op):
    """An `accumulates` op takes in the pending gradient of x only: a weight or adapter
    used by two nodes keeps the first node's gradient (the engine adds it)."""
    g = torch.Generator().manual_seed(4)
    made = [torch.randn(4, IN, generator=g), torch.randn(8, IN, generator=g),
            torch.randn(3, IN, generator=g), torch.randn(8, 3, generator=g)]
    ours = [tc.tensor(t, requires_grad=True) for t in made]
    ref = [t.double().requires_grad_() for t in made]

    def layer(x, w, a, b, f):
        if op == "linear":
            return f.linear(x, w)
        if op == "lora_linear":
            return F.lora_linear(x, w, None, a, b, 2.0)
        return F.grouped_linear(x, [F.LinearTerms(w, None, a, b, 2.0)])

    def torch_layer(x, w, a, b, f):
        out = TF.linear(x, w)
        return out if op == "linear" else out + TF.linear(TF.linear(x, a) * 2.0, b)

    y = layer(ours[0], *ours[1:], F)
    (y + layer(ours[0] * 2.0, *ours[1:], F)).sum().backward()
    r = torch_layer(ref[0], *ref[1:], TF)
    (r + torch_layer(ref[0] * 2.0, *ref[1:], TF)).sum().backward()
    used = 2 if op == "linear" else 4
    for i, (t, rt) in enumerate(zip(ours[:used], ref[:used])):
        assert_close(t.grad.to_torch(), rt.grad, FP32_TOL, f"grad {i}")
