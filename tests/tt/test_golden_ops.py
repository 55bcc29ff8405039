"""Golden mode: each primitive, forward and backward, on the tt backend (its ttnn calls
run as Tenstorrent's golden functions) against the reference backend."""

from __future__ import annotations

import pytest

ttnn = pytest.importorskip("ttnn")

import torch  # noqa: E402

from tests.tt.cases import (  # noqa: E402
    CASES,
    INFERENCE_CASES,
    _rotary_case,
    assert_correlated,
    run,
)

pytestmark = pytest.mark.tt

FP32 = dict(rtol=1e-4, atol=1e-4)
BF16_PCC = 0.999


def _compare(actual, expected, check) -> None:
    (out, grads), (ref_out, ref_grads) = actual, expected
    assert out.shape == ref_out.shape
    check(out, ref_out, "output")
    assert len(grads) == len(ref_grads)
    for i, (g, r) in enumerate(zip(grads, ref_grads)):
        assert g.shape == r.shape, f"grad {i}"
        check(g, r, f"grad {i}")


def _close(a, b, what):
    torch.testing.assert_close(a, b, msg=lambda m: f"{what}: {m}", **FP32)


def _correlated(a, b, what):
    assert_correlated(a, b, BF16_PCC, what)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_float32_matches_reference(case, golden_backend, reference_backend):
    _compare(run(case, golden_backend, torch.float32),
             run(case, reference_backend, torch.float32), _close)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_bfloat16_matches_reference(case, golden_backend, reference_backend):
    """bfloat16 takes the fused kernels that exist for it only (moreh layer norm and
    loss, embedding backward); compared with a float32 reference on the same values."""
    _compare(run(case, golden_backend, torch.bfloat16),
             run(case, reference_backend, torch.float32, precision=torch.bfloat16),
             _correlated)


def _fused_legal(case, dtype) -> bool:
    """ttnn's SDPA kernel takes bfloat16 with a head dim of whole tiles only (its rules)."""
    return dtype == torch.bfloat16 and "_d64" in case.name


@pytest.mark.parametrize("case", INFERENCE_CASES, ids=lambda c: c.name)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
def test_inference_attention_uses_fused_sdpa_where_legal(case, dtype, golden_backend,
                                                         reference_backend):
    out, _ = run(case, golden_backend, dtype, grad=False)
    ref, _ = run(case, reference_backend, torch.float32, grad=False, precision=dtype)
    fused = golden_backend.ttnn.calls["transformer.scaled_dot_product_attention"]
    assert fused == int(_fused_legal(case, dtype))
    if dtype == torch.float32:
        _close(out, ref, "output")
    else:
        _correlated(out, ref, "output")


def test_float32_embedding_is_exact_through_bfloat16_lookups(golden_backend):
    """ttnn.embedding takes bfloat16 weights only; a float32 table looked up as three
    bfloat16 parts comes back bit for bit (a plain bfloat16 cast would not)."""
    table = torch.randn(50, 40, generator=torch.Generator().manual_seed(2))
    ids = torch.tensor([[3, 0, 49, 17], [17, 8, 8, 1]])
    out = golden_backend.embedding(golden_backend.upload(ids), golden_backend.upload(table))
    assert golden_backend.ttnn.calls["embedding"] == 3
    torch.testing.assert_close(golden_backend.download(out), table[ids], rtol=0, atol=0)
    assert not torch.equal(table.bfloat16().float()[ids], table[ids])


def test_training_attention_forward_is_the_fused_kernel(golden_backend):
    """bfloat16 training keeps no logsumexp: the forward is ttnn's SDPA kernel, the
    backward recomputes the probabilities and takes dS from moreh_softmax_backward."""
    [case] = [c for c in CASES if c.name == "sdpa_causal_gqa_d64"]
    run(case, golden_backend, torch.bfloat16)
    calls = golden_backend.ttnn.calls
    assert calls["transformer.scaled_dot_product_attention"] == 1
    assert (calls["softmax"], calls["moreh_softmax_backward"]) == (1, 1)
    assert calls["max"] == calls["log"] == calls["repeat_interleave"] == 0


@pytest.mark.parametrize("name, fused", [
    ("qkv_attention_gqa_d64_s32", True),
    ("qkv_attention_gqa_d16_s20", False),  # heads and sequence not whole tiles: composed
])
def test_qkv_attention_splits_and_merges_heads_with_the_nlp_kernels(name, fused,
                                                                    golden_backend):
    """Where heads and sequences are whole tiles, F.qkv_attention splits the fused stream
    with one nlp_create_qkv_heads and merges the output and the fused gradient with one
    nlp_concat_heads each (dq|dk|dv concatenated on the heads first): no permute but the
    backward's split of the output gradient, no slice."""
    [case] = [c for c in CASES if c.name == name]
    run(case, golden_backend, torch.bfloat16)
    calls = golden_backend.ttnn.calls
    heads = (calls["experimental.nlp_create_qkv_heads"], calls["experimental.nlp_concat_heads"])
    if fused:
        assert heads == (1, 2)
        assert (calls["permute"], calls["slice"], calls["concat"]) == (1, 0, 1)
    else:
        assert heads == (0, 0)
        assert calls["permute"] == 4  # split, merge, and both again in the backward


def test_rotary_backward_negates_the_sin_table_once_for_all_layers(golden_backend,
                                                                    reference_backend):
    """The backward's -sin table is made once per sin array (TTBackend.derived), not per
    call: two layers' q and k share one."""
    import ttcustom as tc
    from ttcustom import functional as F

    x, cos, sin = _rotary_case(64)(torch.Generator().manual_seed(3))

    def grads(backend):
        xs = [tc.tensor(x + i, requires_grad=True, backend=backend) for i in range(4)]
        c, s = (tc.tensor(t, backend=backend) for t in (cos, sin))
        loss = sum(F.sum(F.rotary_embedding(t, c, s) * float(i + 1)) for i, t in enumerate(xs))
        loss.backward()
        return [t.grad.to_torch() for t in xs]

    actual = grads(golden_backend)
    assert golden_backend.ttnn.calls["neg"] == 1
    assert golden_backend.ttnn.calls["experimental.rotary_embedding"] == 8
    for a, r in zip(actual, grads(reference_backend)):
        _close(a, r, "grad")


@pytest.mark.parametrize("name, softmaxes, multiplies, adds", [
    ("sdpa_causal_gqa_d64_s32", 1, 1, 0),  # fused forward; the scale 1/8 goes into the softmax
    ("sdpa_causal_d40_s32", 2, 3, 0),  # composed forward too; 1/sqrt(40) is multiplied apart
    # padding mask + causal mask, made once per mask array for the kernel and the softmax
    # (an add each); the bool mask's conversion to a bias (F.attention_bias) multiplies
    ("sdpa_causal_gqa_padding_mask_d64_s32", 1, 2, 2),
])
def test_attention_fuses_scale_and_masks_into_the_softmax(name, softmaxes, multiplies, adds,
                                                          golden_backend):
    """Whole-tile square scores: scale_mask_softmax, with the scale where bfloat16 holds it
    exactly (the kernel reads it as bfloat16); dS is scaled once."""
    [case] = [c for c in CASES if c.name == name]
    run(case, golden_backend, torch.bfloat16)  # makes the causal mask, a kept constant
    golden_backend.ttnn.calls.clear()
    run(case, golden_backend, torch.bfloat16)
    calls = golden_backend.ttnn.calls
    assert (calls["scale_mask_softmax"], calls["softmax"]) == (softmaxes, 0)
    assert (calls["multiply"], calls["add"]) == (multiplies, adds)
