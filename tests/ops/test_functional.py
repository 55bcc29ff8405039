"""Every functional op: forward and backward against torch.autograd (float64 reference)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given, settings
from hypothesis import strategies as st

import ttcustom as tc
import ttcustom.functional as F
from tests.helpers import BF16_TOL, FP32_TOL, assert_close, grads_of


def _rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def _torch_rotary(x, cos, sin):
    return x * cos + _rotate_half(x) * sin


def _rope_tables(seq, dim):
    inv = 1.0 / (10000 ** (torch.arange(0, dim, 2).float() / dim))
    freqs = torch.outer(torch.arange(seq).float(), inv)
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos(), emb.sin()


def _randn(*shape):
    return torch.randn(*shape)


# name -> (ttcustom fn, torch fn, inputs factory, which inputs are differentiable)
CASES = {
    "add": (F.add, torch.add, lambda: [_randn(3, 4, 5), _randn(4, 1)], None),
    "sub": (F.sub, torch.sub, lambda: [_randn(2, 5), _randn(5)], None),
    "mul": (F.mul, torch.mul, lambda: [_randn(3, 1, 6), _randn(4, 6)], None),
    "div": (F.div, torch.div, lambda: [_randn(3, 4), _randn(3, 4).abs() + 0.5], None),
    "add_scalar": (lambda a: F.add(a, 2.5), lambda a: a + 2.5, lambda: [_randn(7, 3)], None),
    "rsub_scalar": (lambda a: 1.5 - a, lambda a: 1.5 - a, lambda: [_randn(7, 3)], None),
    "rdiv_scalar": (lambda a: 2.0 / a, lambda a: 2.0 / a, lambda: [_randn(4).abs() + 1], None),
    "neg": (F.neg, torch.neg, lambda: [_randn(4, 3)], None),
    "exp": (F.exp, torch.exp, lambda: [_randn(4, 3)], None),
    "log": (F.log, torch.log, lambda: [_randn(4, 3).abs() + 0.1], None),
    "pow": (lambda a: F.pow(a, 3.0), lambda a: a**3, lambda: [_randn(5, 2)], None),
    "tanh": (F.tanh, torch.tanh, lambda: [_randn(5, 2)], None),
    "silu": (F.silu, TF.silu, lambda: [_randn(3, 8)], None),
    "gelu": (F.gelu, TF.gelu, lambda: [_randn(3, 8)], None),
    "gelu_tanh": (lambda a: F.gelu(a, "tanh"), lambda a: TF.gelu(a, approximate="tanh"),
                  lambda: [_randn(3, 8)], None),
    "swiglu": (F.swiglu, lambda g, u: TF.silu(g) * u, lambda: [_randn(2, 3, 8), _randn(2, 3, 8)], None),
    "matmul": (F.matmul, torch.matmul, lambda: [_randn(2, 3, 4, 5), _randn(2, 3, 5, 6)], None),
    "matmul_broadcast": (F.matmul, torch.matmul, lambda: [_randn(2, 3, 4, 5), _randn(5, 6)], None),
    "linear": (F.linear, TF.linear, lambda: [_randn(2, 7, 5), _randn(6, 5), _randn(6)], None),
    "linear_nobias": (F.linear, TF.linear, lambda: [_randn(9, 5), _randn(4, 5)], None),
    "sum_all": (F.sum, torch.sum, lambda: [_randn(3, 4)], None),
    "sum_dim": (lambda a: F.sum(a, 1), lambda a: a.sum(1), lambda: [_randn(3, 4, 2)], None),
    "sum_keepdim": (lambda a: F.sum(a, (0, 2), keepdim=True),
                    lambda a: a.sum((0, 2), keepdim=True), lambda: [_randn(3, 4, 2)], None),
    "mean": (lambda a: F.mean(a, -1), lambda a: a.mean(-1), lambda: [_randn(3, 4)], None),
    "reshape": (lambda a: F.reshape(a, (4, -1)), lambda a: a.reshape(4, -1),
                lambda: [_randn(2, 3, 4)], None),
    "permute": (lambda a: F.permute(a, (2, 0, 1)), lambda a: a.permute(2, 0, 1),
                lambda: [_randn(2, 3, 4)], None),
    "transpose": (lambda a: F.transpose(a, 1, 2), lambda a: a.transpose(1, 2),
                  lambda: [_randn(2, 3, 4)], None),
    "slice": (lambda a: a[1:, ::2, 1], lambda a: a[1:, ::2, 1], lambda: [_randn(3, 5, 4)], None),
    "slice_none_ellipsis": (lambda a: a[None, ..., 2:], lambda a: a[None, ..., 2:],
                            lambda: [_randn(3, 5)], None),
    "cat": (lambda a, b: F.cat([a, b], dim=1), lambda a, b: torch.cat([a, b], 1),
            lambda: [_randn(2, 3, 4), _randn(2, 5, 4)], None),
    "embedding": (F.embedding, TF.embedding,
                  lambda: [torch.tensor([[1, 3, 3], [0, 9, 1]]), _randn(10, 6)], [False, True]),
    "rms_norm": (lambda x, w: F.rms_norm(x, w, 1e-6), lambda x, w: TF.rms_norm(x, (8,), w, 1e-6),
                 lambda: [_randn(2, 3, 8), _randn(8)], None),
    "layer_norm": (lambda x, w, b: F.layer_norm(x, w, b, 1e-5),
                   lambda x, w, b: TF.layer_norm(x, (8,), w, b, 1e-5),
                   lambda: [_randn(2, 3, 8), _randn(8), _randn(8)], None),
    "softmax": (lambda a: F.softmax(a, -1), lambda a: a.softmax(-1), lambda: [_randn(3, 7)], None),
    "softmax_dim0": (lambda a: F.softmax(a, 0), lambda a: a.softmax(0), lambda: [_randn(3, 7)], None),
    "log_softmax": (lambda a: F.log_softmax(a, -1), lambda a: a.log_softmax(-1),
                    lambda: [_randn(3, 7)], None),
    "rotary": (F.rotary_embedding, _torch_rotary,
               lambda: [_randn(2, 3, 5, 8), *_rope_tables(5, 8)], [True, False, False]),
    "cross_entropy": (F.cross_entropy, TF.cross_entropy,
                      lambda: [_randn(6, 11), torch.tensor([1, 0, 10, 3, 3, 7])], [True, False]),
    "cross_entropy_ignore": (F.cross_entropy, TF.cross_entropy,
                             lambda: [_randn(6, 11), torch.tensor([1, -100, 10, -100, 3, 7])],
                             [True, False]),
    "cross_entropy_sum": (lambda a, t: F.cross_entropy(a, t, reduction="sum"),
                          lambda a, t: TF.cross_entropy(a, t, reduction="sum"),
                          lambda: [_randn(5, 4), torch.tensor([1, 0, 3, -100, 2])], [True, False]),
    "cross_entropy_none": (lambda a, t: F.cross_entropy(a, t, reduction="none"),
                           lambda a, t: TF.cross_entropy(a, t, reduction="none"),
                           lambda: [_randn(5, 4), torch.tensor([1, 0, 3, -100, 2])], [True, False]),
}


def _sdpa_case(causal, heads, kv_heads, mask_kind=None, seq=6, dim=8):
    def tc_fn(q, k, v, mask=None):
        m = None if mask is None else tc.tensor(mask)
        return F.scaled_dot_product_attention(q, k, v, attn_mask=m, is_causal=causal)

    def torch_fn(q, k, v, mask=None):
        groups = heads // kv_heads
        k, v = k.repeat_interleave(groups, 1), v.repeat_interleave(groups, 1)
        m = None if mask is None else (mask if mask.dtype == torch.bool else mask.to(q.dtype))
        return TF.scaled_dot_product_attention(q, k, v, attn_mask=m, is_causal=causal)

    def inputs():
        qkv = [_randn(2, heads, seq, dim), _randn(2, kv_heads, seq, dim), _randn(2, kv_heads, seq, dim)]
        if mask_kind == "bool":
            keep = torch.ones(2, 1, 1, seq, dtype=torch.bool)
            keep[0, ..., -2:] = False  # right padding of the first sequence
            return [*qkv, keep]
        if mask_kind == "additive":
            return [*qkv, torch.randn(2, 1, seq, seq)]
        return qkv

    diff = [True, True, True] + ([False] if mask_kind else [])
    return tc_fn, torch_fn, inputs, diff


CASES.update({
    "sdpa": _sdpa_case(False, 4, 4),
    "sdpa_causal": _sdpa_case(True, 4, 4),
    "sdpa_causal_gqa": _sdpa_case(True, 4, 2),
    "sdpa_padding_mask": _sdpa_case(True, 2, 1, "bool"),
    "sdpa_additive_mask": _sdpa_case(False, 2, 2, "additive"),
})


def _qkv_case(causal, heads, kv_heads, rotary=False, mask_kind=None, batch=2, seq=6, dim=8):
    """F.qkv_attention on [B * S, (H + 2 KV) * D] against the plain formula: split, rotary,
    torch's SDPA on repeated K/V, merge."""
    sdpa_fn = _sdpa_case(causal, heads, kv_heads, mask_kind, seq, dim)[1]
    tables = _rope_tables(seq, dim) if rotary else None

    def tc_fn(qkv, mask=None):
        cos, sin = (tc.tensor(t, dtype=qkv.dtype) for t in tables) if rotary else (None, None)
        m = None if mask is None else tc.tensor(mask)
        return F.qkv_attention(qkv, (batch, seq), heads, kv_heads, dim, cos, sin, m, causal)

    def torch_fn(qkv, mask=None):
        x = qkv.reshape(batch, seq, heads + 2 * kv_heads, dim).transpose(1, 2)
        q, k, v = x.split([heads, kv_heads, kv_heads], dim=1)
        if rotary:
            cos, sin = (t.to(qkv.dtype) for t in tables)
            q, k = _torch_rotary(q, cos, sin), _torch_rotary(k, cos, sin)
        out = sdpa_fn(q, k, v, mask)
        return out.transpose(1, 2).reshape(batch * seq, heads * dim)

    def inputs():
        qkv = [_randn(batch * seq, (heads + 2 * kv_heads) * dim)]
        if mask_kind == "bool":
            keep = torch.ones(batch, 1, 1, seq, dtype=torch.bool)
            keep[0, ..., -2:] = False  # right padding of the first sequence
            return [*qkv, keep]
        if mask_kind == "additive":
            return [*qkv, torch.randn(batch, 1, seq, seq)]
        return qkv

    return tc_fn, torch_fn, inputs, [True] + ([False] if mask_kind else [])


CASES.update({
    "qkv_attention": _qkv_case(False, 4, 4),
    "qkv_attention_causal_gqa_rotary": _qkv_case(True, 4, 2, rotary=True),
    "qkv_attention_mqa_rotary_padding_mask": _qkv_case(True, 4, 1, True, "bool"),
    "qkv_attention_additive_mask": _qkv_case(False, 2, 2, mask_kind="additive"),
})


@pytest.mark.parametrize("name", sorted(CASES))
def test_forward_and_backward_match_torch_autograd(name):
    tc_fn, torch_fn, make_inputs, diff = CASES[name]
    (out, grads), (ref_out, ref_grads) = grads_of(tc_fn, torch_fn, make_inputs(), diff)
    assert out.shape == ref_out.shape
    assert_close(out, ref_out, FP32_TOL, f"{name} forward")
    for i, (g, rg) in enumerate(zip(grads, ref_grads)):
        if rg is not None:
            assert_close(g, rg, FP32_TOL, f"{name} grad of input {i}")


BF16_CASES = ["linear", "matmul", "rms_norm", "layer_norm", "softmax", "silu", "swiglu",
              "cross_entropy", "sdpa_causal_gqa", "rotary", "embedding", "add", "mul",
              "qkv_attention_causal_gqa_rotary"]


@pytest.mark.parametrize("name", BF16_CASES)
def test_bfloat16_within_documented_tolerance(name):
    tc_fn, torch_fn, make_inputs, diff = CASES[name]
    (out, grads), (ref_out, ref_grads) = grads_of(tc_fn, torch_fn, make_inputs(), diff,
                                                  dtype=torch.bfloat16)
    assert out.dtype == torch.bfloat16 or name == "cross_entropy"
    scale = max(1.0, ref_out.abs().max().item())
    tol = dict(rtol=BF16_TOL["rtol"], atol=BF16_TOL["atol"] * scale)
    assert_close(out, ref_out, tol, f"{name} bf16 forward")
    for i, (g, rg) in enumerate(zip(grads, ref_grads)):
        if rg is not None:
            gscale = max(1.0, rg.abs().max().item())
            assert_close(g, rg, dict(rtol=BF16_TOL["rtol"], atol=BF16_TOL["atol"] * gscale),
                         f"{name} bf16 grad {i}")


@settings(max_examples=25, deadline=None)
@given(
    shapes=st.lists(st.integers(1, 4), min_size=1, max_size=4).flatmap(
        lambda full: st.tuples(
            st.just(tuple(full)),
            st.lists(st.booleans(), min_size=len(full), max_size=len(full)),
            st.integers(0, len(full)),
        )
    ),
    op=st.sampled_from(["add", "sub", "mul", "div"]),
)
def test_broadcasting_binary_ops_on_random_shapes(shapes, op):
    full, ones, drop = shapes
    other = tuple(1 if one else n for n, one in zip(full, ones))[drop:]
    a, b = torch.randn(full), torch.randn(other).abs() + 0.5
    (out, grads), (ref, ref_grads) = grads_of(getattr(F, op), getattr(torch, op), [a, b])
    assert_close(out, ref, FP32_TOL, op)
    for g, rg in zip(grads, ref_grads):
        assert g.shape == rg.shape
        assert_close(g, rg, FP32_TOL, f"{op} grad")


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("form", [torch.bool, torch.int64, torch.float32])
def test_attention_bias_is_transformers_additive_mask(dtype, form):
    """A keep mask (bool, 0/1 ints or floats) becomes transformers' eager additive mask:
    0 where kept, the dtype's lowest finite value elsewhere."""
    from transformers.masking_utils import eager_mask, sdpa_mask

    padding = torch.tensor([[1, 1, 1, 0], [0, 1, 1, 1]]).bool()
    shape = dict(batch_size=2, q_length=4, kv_length=4, attention_mask=padding)
    keep = sdpa_mask(**shape, allow_is_causal_skip=False)
    bias = F.attention_bias(tc.tensor(keep.to(form)), dtype)
    assert bias.dtype == dtype
    assert torch.equal(bias.to_torch(), eager_mask(**shape, dtype=dtype))


def test_left_padded_causal_attention_stays_finite():
    """Rows whose keys are all masked (left padding under a causal mask) give no NaN."""
    q = tc.randn(1, 2, 4, 8, requires_grad=True)
    keep = torch.ones(1, 1, 1, 4, dtype=torch.bool)
    keep[..., :2] = False
    out = F.scaled_dot_product_attention(q, q, q, attn_mask=tc.tensor(keep), is_causal=True)
    out.sum().backward()
    assert torch.isfinite(out.to_torch()).all() and torch.isfinite(q.grad.to_torch()).all()


def test_dropout_is_seeded_scaled_and_backward_uses_the_same_mask():
    x = tc.ones(1000, 8, requires_grad=True)
    y = F.dropout(x, p=0.25, seed=7)
    again = F.dropout(tc.ones(1000, 8), p=0.25, seed=7).to_torch()
    kept = y.to_torch()
    assert torch.equal(kept, again)
    assert set(kept.unique().tolist()) <= {0.0, torch.tensor(1 / 0.75).item()}
    assert abs((kept == 0).float().mean().item() - 0.25) < 0.02
    y.sum().backward()
    assert torch.equal(x.grad.to_torch(), kept)
    assert F.dropout(x, p=0.25, training=False) is x


def test_gradients_accumulate_across_two_backward_calls():
    w_host = torch.randn(4, 3)
    x1, x2 = torch.randn(5, 3), torch.randn(5, 3)
    w = tc.tensor(w_host, requires_grad=True)
    F.linear(tc.tensor(x1), w).pow(2.0).sum().backward()
    F.linear(tc.tensor(x2), w).pow(2.0).sum().backward()
    ref = w_host.clone().requires_grad_()
    (TF.linear(x1, ref) ** 2).sum().backward()
    (TF.linear(x2, ref) ** 2).sum().backward()
    assert_close(w.grad.to_torch(), ref.grad, FP32_TOL, "accumulated grad")


def test_reused_tensor_sums_gradients_from_every_use():
    host = torch.randn(3, 3)
    x = tc.tensor(host, requires_grad=True)
    (x * x + F.exp(x) * x).sum().backward()
    ref = host.clone().requires_grad_()
    (ref * ref + ref.exp() * ref).sum().backward()
    assert_close(x.grad.to_torch(), ref.grad, FP32_TOL, "reused tensor grad")


def test_an_accumulating_function_adds_the_pending_gradient_itself(monkeypatch):
    """`Function.accumulates`: backward gets the gradient other uses of its input already
    produced and returns the sum; the engine adds nothing more (RMSNorm on the residual
    stream: x + norm(x))."""
    host, weight = torch.randn(4, 8), torch.rand(8) + 0.5
    x = tc.tensor(host, requires_grad=True)
    y = x * 2.0
    loss = (y + F.rms_norm(y, tc.tensor(weight), 1e-6)).pow(2).sum()
    adds, real_add = [], type(x.backend).add
    monkeypatch.setattr(type(x.backend), "add",
                        lambda self, a, b: adds.append(1) or real_add(self, a, b))
    loss.backward()
    ref = host.clone().requires_grad_()
    ry = ref * 2.0
    (ry + TF.rms_norm(ry, (8,), weight, 1e-6)).pow(2).sum().backward()
    assert_close(x.grad.to_torch(), ref.grad, FP32_TOL, "grad through norm + residual")
    assert adds == []  # the norm's backward took the residual's gradient in


def test_an_input_used_twice_by_one_accumulating_function_is_offered_once():
    from ttcustom.autograd.function import Function

    class Both(Function):  # a + b, accumulating
        accumulates = (0, 1)

        @staticmethod
        def forward(ctx, a, b):
            return ctx.backend.add(a, b)

        @staticmethod
        def backward(ctx, grad, into):
            return tuple(grad if i is None else ctx.backend.add(i, grad) for i in into)

    x = tc.tensor(torch.ones(3), requires_grad=True)
    y = x * 3.0
    (Both.apply(y, y) + y).sum().backward()
    assert x.grad.to_torch().tolist() == [9.0, 9.0, 9.0]


def test_two_leaves_receiving_one_gradient_array_do_not_alias():
    a, b = tc.zeros(3, requires_grad=True), tc.zeros(3, requires_grad=True)
    (a + b).sum().backward()
    a.grad.data.mul_(5.0)  # an in-place update of one grad (as clipping does)
    assert b.grad.to_torch().tolist() == [1.0, 1.0, 1.0]


def test_saved_arrays_are_freed_after_backward():
    x = tc.randn(4, 4, requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()
    z = (x * x).sum()
    z.backward(retain_graph=True)
    z.backward()
    assert_close(x.grad.to_torch(), 6 * x.to_torch(), FP32_TOL, "retain_graph")


def test_no_grad_records_no_history_and_detach_cuts_the_graph():
    x = tc.randn(2, 2, requires_grad=True)
    with tc.no_grad():
        y = x * 2
    assert not y.requires_grad and y.grad_fn is None
    z = (x.detach() * 2)
    assert not z.requires_grad
    assert math.isclose(tc.tensor([1.5]).item(), 1.5)
