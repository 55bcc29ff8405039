"""Golden mode: a frozen linear weight is transposed once, not in every forward, and its
copy follows the weight (in-place writes, a replaced array)."""

from __future__ import annotations

import pytest

ttnn = pytest.importorskip("ttnn")

import torch  # noqa: E402

import ttcustom as tc  # noqa: E402
from ttcustom import functional as F  # noqa: E402
from ttcustom.backends.tt.cost import measure  # noqa: E402
from ttcustom.nn import Linear  # noqa: E402

pytestmark = pytest.mark.tt

IN, OUT = 40, 72  # not tile multiples: the copy's tile padding must be zero


def _layer(backend, frozen: bool) -> tuple[Linear, tc.Tensor]:
    tc.manual_seed(0)
    layer = Linear(IN, OUT, bias=True, device=backend, dtype=torch.float32)
    layer.weight.requires_grad_(not frozen)
    x = tc.tensor(torch.randn(3, 5, IN, generator=torch.Generator().manual_seed(1)),
                  backend=backend, requires_grad=True)
    return layer, x


def _forward_backward(layer, x) -> tuple[torch.Tensor, torch.Tensor]:
    x.grad = None
    out = layer(x)
    (out * out).sum().backward()
    return out.to_torch(), x.grad.to_torch()


@pytest.mark.parametrize("frozen", [True, False])
def test_linear_matches_reference(golden_backend, reference_backend, frozen):
    out, dx = _forward_backward(*_layer(golden_backend, frozen))
    ref_out, ref_dx = _forward_backward(*_layer(reference_backend, frozen))
    torch.testing.assert_close(out, ref_out, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(dx, ref_dx, rtol=1e-4, atol=1e-5)


def test_frozen_weight_is_transposed_once(golden_backend):
    layer, x = _layer(golden_backend, frozen=True)
    first = measure(golden_backend, lambda: _forward_backward(layer, x))
    again = measure(golden_backend, lambda: _forward_backward(layer, x))
    assert first.calls["transpose"] == 1
    assert again.calls["transpose"] == 0 and "linear.transpose" not in again.copied


def test_trainable_weight_is_not_held(golden_backend):
    layer, x = _layer(golden_backend, frozen=False)
    _forward_backward(layer, x)
    assert golden_backend.frozen.get(layer.weight.data) is None


def test_copy_into_a_frozen_weight_renews_its_layout(golden_backend, reference_backend):
    layer, x = _layer(golden_backend, frozen=True)
    _forward_backward(layer, x)
    new = torch.randn(OUT, IN, generator=torch.Generator().manual_seed(2))
    layer.weight.copy_(tc.tensor(new, backend=golden_backend))
    out, _ = _forward_backward(layer, x)
    expected = F.linear(tc.tensor(x.to_torch(), backend=reference_backend),
                        tc.tensor(new, backend=reference_backend),
                        tc.tensor(layer.bias.to_torch(), backend=reference_backend))
    torch.testing.assert_close(out, expected.to_torch(), rtol=1e-4, atol=1e-5)


def test_replaced_weight_array_gets_a_new_layout(golden_backend):
    layer, x = _layer(golden_backend, frozen=True)
    _forward_backward(layer, x)
    old = layer.weight.data
    layer.weight.data = golden_backend.upload(torch.zeros(OUT, IN), torch.float32)
    out, _ = _forward_backward(layer, x)
    torch.testing.assert_close(out, layer.bias.to_torch().expand(3, 5, OUT))
    assert golden_backend.frozen.get(old) is None
    assert len(golden_backend.frozen.copies()) == 1


def _rotary_reference(x, cos, sin):
    half = x.shape[-1] // 2
    return x * cos + torch.cat((-x[..., half:], x[..., :half]), -1) * sin


def test_rotary_tables_are_laid_out_once_and_follow_writes(golden_backend):
    b, g = golden_backend, torch.Generator().manual_seed(3)
    x, cos, sin = (torch.randn(*s, generator=g) for s in ((1, 2, 32, 64), (32, 64), (32, 64)))
    dx, dcos, dsin = (b.upload(t, torch.float32) for t in (x, cos, sin))
    first = measure(b, lambda: b.rotary(dx, dcos, dsin))
    again = measure(b, lambda: b.rotary(dx, dcos, dsin))
    assert first.calls["reshape"] == 2 and again.calls["reshape"] == 0
    new = torch.randn(32, 64, generator=g)
    b.copy_(dcos, b.upload(new, torch.float32))
    torch.testing.assert_close(b.download(b.rotary(dx, dcos, dsin)),
                               _rotary_reference(x, new, sin), rtol=1e-5, atol=1e-5)
