"""Bad input raises an error that names the argument and the expected vs given value."""

from __future__ import annotations

import pytest
import torch

import ttcustom as tc
import ttcustom.functional as F


@pytest.mark.parametrize("call,error,match", [
    (lambda: F.linear(tc.randn(2, 5), tc.randn(3, 4)), ValueError, r"5 features.*in_features=4"),
    (lambda: F.linear(tc.randn(2, 4), tc.randn(3, 4), tc.randn(4)), ValueError, r"bias shape \(4,\).*\(3,\)"),
    (lambda: F.matmul(tc.randn(2, 3), tc.randn(4, 5)), ValueError, r"inner dims.*3 columns.*4 rows"),
    (lambda: F.add(tc.randn(2, 3), tc.randn(4, 3)), ValueError, r"\(2, 3\) and \(4, 3\).*broadcast"),
    (lambda: F.mul(tc.randn(2), tc.randn(2, dtype=torch.bfloat16)), TypeError, r"dtype mismatch.*float32.*bfloat16"),
    (lambda: F.linear(tc.randn(2, 4, dtype=torch.bfloat16), tc.randn(3, 4)), TypeError, r"input=torch\.bfloat16, weight=torch\.float32"),
    (lambda: F.reshape(tc.randn(2, 3), (4, 2)), ValueError, r"\(2, 3\).*\(4, 2\)"),
    (lambda: F.cross_entropy(tc.randn(2, 3, 4), tc.zeros(2, 3, dtype=torch.int64)), ValueError, r"\[N, C\].*\(2, 3, 4\)"),
    (lambda: F.cross_entropy(tc.randn(4, 3), tc.zeros(5, dtype=torch.int64)), ValueError, r"target shape \(5,\), expected \(4,\)"),
    (lambda: F.cross_entropy(tc.randn(4, 3), tc.zeros(4)), TypeError, r"class indices"),
    (lambda: F.embedding(tc.randn(3), tc.randn(5, 2)), TypeError, r"indices must be integers"),
    (lambda: F.rms_norm(tc.randn(2, 8), tc.randn(4)), ValueError, r"weight shape \(4,\), expected \(8,\)"),
    (lambda: F.scaled_dot_product_attention(tc.randn(1, 3, 4, 8), tc.randn(1, 2, 4, 8), tc.randn(1, 2, 4, 8)), ValueError, r"multiple of key heads"),
    (lambda: F.qkv_attention(tc.randn(12, 60), (2, 6), 4, 2, 8, None, None), ValueError, r"qkv_attention: qkv must be.*\(12, 60\)"),
    (lambda: F.qkv_attention(tc.randn(12, 48), (2, 6), 2, 2, 8, tc.randn(6, 8), None), ValueError, "both cos and sin"),
    (lambda: F.dropout(tc.randn(2), p=1.0), ValueError, r"p must be in \[0, 1\)"),
    (lambda: F.permute(tc.randn(2, 3), (0, 0)), ValueError, "not a permutation"),
    (lambda: F.cat([tc.randn(2, 3), tc.randn(3, 4)], dim=0), ValueError, r"tensor 1 has shape \(3, 4\)"),
    (lambda: tc.randn(2, 3)[[0, 1]], TypeError, "only ints, slices"),
    (lambda: tc.randn(2, 3).item(), ValueError, r"one element.*\(2, 3\)"),
])
def test_bad_input_errors_name_the_problem(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_backward_on_a_non_scalar_without_gradient_names_the_shape():
    y = tc.randn(2, 3, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match=r"scalar outputs.*\(2, 3\)"):
        y.backward()
    with pytest.raises(RuntimeError, match=r"gradient has shape \(3,\), expected \(2, 3\)"):
        y.backward(tc.ones(3))


def test_backward_without_requires_grad_explains():
    with pytest.raises(RuntimeError, match="does not require grad"):
        (tc.randn(2) * 2).sum().backward()


def test_mixing_backends_is_an_error(monkeypatch):
    other = tc.backends.ReferenceBackend("cpu")
    a = tc.randn(2)
    b = tc.randn(2, backend=other)
    with pytest.raises(RuntimeError, match="different backends"):
        F.add(a, b)


def test_unknown_backend_name_lists_the_choices(monkeypatch):
    monkeypatch.setenv("TTCUSTOM_BACKEND", "gpu")
    with pytest.raises(ValueError, match=r"'gpu'.*TTCUSTOM_BACKEND.*auto"):
        tc.backends.resolve_name()


def test_backend_selection_by_env_var(monkeypatch):
    monkeypatch.setenv("TTCUSTOM_BACKEND", "cpu")
    assert tc.backends.resolve_name() == "cpu"
    monkeypatch.delenv("TTCUSTOM_BACKEND")
    monkeypatch.setattr(tc.backends, "tt_card_present", lambda: False)
    assert tc.backends.resolve_name("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    monkeypatch.setattr(tc.backends, "tt_card_present", lambda: True)
    assert tc.backends.resolve_name("auto") == "tt"


def test_a_mock_cluster_is_not_a_card(monkeypatch):
    monkeypatch.setenv("TT_METAL_MOCK_CLUSTER_DESC_PATH", "/some/mock.yaml")
    assert not tc.backends.tt_card_present()


def test_subpackages_are_reachable_from_the_top_level_module():
    assert tc.models.from_hf is not None and tc.export.to_hf is not None
    assert tc.distributed.DistributedDataParallel is not None
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        tc.nope  # noqa: B018
