"""Golden mode: each primitive, forward and backward, on the tt backend (its ttnn calls
run as Tenstorrent's golden functions) against the reference backend."""

from __future__ import annotations

import pytest

ttnn = pytest.importorskip("ttnn")

import torch  # noqa: E402

from tests.tt.cases import CASES, INFERENCE_CASES, assert_correlated, run  # noqa: E402

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


@pytest.mark.parametrize("case", INFERENCE_CASES, ids=lambda c: c.name)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
def test_inference_attention_uses_fused_sdpa(case, dtype, golden_backend, reference_backend):
    out, _ = run(case, golden_backend, dtype, grad=False)
    ref, _ = run(case, reference_backend, torch.float32, grad=False, precision=dtype)
    assert golden_backend.ttnn.calls["transformer.scaled_dot_product_attention"] == 1
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
