"""Golden mode: optimizer steps, gradient clipping, dropout and in-place updates on the
tt backend against the reference backend (all on device: moreh_adamw/moreh_sgd for
bfloat16, float32 composites, a float32 global norm)."""

from __future__ import annotations

import pytest

ttnn = pytest.importorskip("ttnn")

import torch  # noqa: E402

import ttcustom as tc  # noqa: E402
from tests.tt.cases import pcc  # noqa: E402
from ttcustom import functional as F  # noqa: E402
from ttcustom.optim import SGD, AdamW, clip_grad_norm_  # noqa: E402

pytestmark = pytest.mark.tt

SHAPES = [(5, 40), (40,), (3, 2, 7)]


def _train(backend, make_optimizer, dtype, steps=3):
    """Parameters after `steps` updates from seeded gradients, as float32 host tensors."""
    g = torch.Generator().manual_seed(7)
    params = [tc.tensor(torch.randn(s, generator=g), dtype=dtype, requires_grad=True,
                        backend=backend) for s in SHAPES]
    optimizer = make_optimizer(params)
    for _ in range(steps):
        for p in params:
            p.grad = tc.tensor(torch.randn(p.shape, generator=g), dtype=dtype, backend=backend)
        optimizer.step()
    return [p.to_torch().float() for p in params]


OPTIMIZERS = {
    "adamw": lambda ps: AdamW(ps, lr=1e-2, weight_decay=0.1),
    "sgd": lambda ps: SGD(ps, lr=0.1),
    "sgd_momentum_decay": lambda ps: SGD(ps, lr=0.1, momentum=0.9, dampening=0.1,
                                         weight_decay=0.01),
    "sgd_nesterov": lambda ps: SGD(ps, lr=0.1, momentum=0.9, nesterov=True),
}


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_optimizer_float32_matches_reference(name, golden_backend, reference_backend):
    ours = _train(golden_backend, OPTIMIZERS[name], torch.float32)
    ref = _train(reference_backend, OPTIMIZERS[name], torch.float32)
    for a, b in zip(ours, ref):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_optimizer_bfloat16_tracks_reference(name, golden_backend, reference_backend):
    ours = _train(golden_backend, OPTIMIZERS[name], torch.bfloat16)
    ref = _train(reference_backend, OPTIMIZERS[name], torch.bfloat16)
    for a, b in zip(ours, ref):
        assert pcc(a, b) > 0.999


@pytest.mark.parametrize("dtype, kernel", [(torch.bfloat16, "moreh_adamw"),
                                           (torch.float32, "sqrt")])
def test_optimizer_updates_parameters_in_place(dtype, kernel, golden_backend):
    """bfloat16 state: the fused moreh_adamw (its only dtypes); float32 state: the
    composite AdamW (moreh_adamw would reject it)."""
    param = tc.tensor(torch.ones(5, 40), dtype=dtype, requires_grad=True, backend=golden_backend)
    array = param.data
    param.grad = tc.ones(5, 40, dtype=dtype, backend=golden_backend)
    AdamW([param], lr=0.5).step()
    assert param.data is array
    assert golden_backend.ttnn.calls[kernel] == 1
    assert golden_backend.ttnn.calls["moreh_adamw"] == (kernel == "moreh_adamw")


@pytest.mark.parametrize("name", ["adamw", "sgd_momentum_decay"])
def test_master_weights_update_float32_copies_without_moreh_kernels(
        name, golden_backend, reference_backend):
    """master_weights=True on bfloat16 params: float32 master + state through the
    composites (no bfloat16-only moreh kernel sees float32), as the reference does."""
    def make(ps):
        return (AdamW(ps, lr=1e-2, weight_decay=0.1, master_weights=True) if name == "adamw"
                else SGD(ps, lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01,
                         master_weights=True))
    ours = _train(golden_backend, make, torch.bfloat16)
    ref = _train(reference_backend, make, torch.bfloat16)
    assert not golden_backend.ttnn.calls["moreh_adamw"] + golden_backend.ttnn.calls["moreh_sgd"]
    for a, b in zip(ours, ref):
        torch.testing.assert_close(a, b, rtol=1e-2, atol=1e-2)


@pytest.mark.parametrize("norm_type", [2.0, float("inf")])
def test_clip_grad_norm_matches_reference(norm_type, golden_backend, reference_backend):
    results = []
    for backend in (golden_backend, reference_backend):
        g = torch.Generator().manual_seed(3)
        params = [tc.tensor(torch.zeros(s), requires_grad=True, backend=backend) for s in SHAPES]
        for p in params:
            p.grad = tc.tensor(torch.randn(p.shape, generator=g) * 3, backend=backend)
        total = clip_grad_norm_(params, max_norm=1.0, norm_type=norm_type)
        results.append((total.to_torch(), [p.grad.to_torch() for p in params]))
    (total, grads), (ref_total, ref_grads) = results
    torch.testing.assert_close(total.float(), ref_total.float(), rtol=1e-5, atol=1e-6)
    for a, b in zip(grads, ref_grads):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_dropout_keeps_one_minus_p_scaled_and_masks_the_gradient(golden_backend):
    # ttnn.rand is the device's own generator: the mask cannot equal torch's, so the
    # test checks what dropout promises: the keep rate, the scale, and a backward that
    # reuses the forward mask.
    x = tc.tensor(torch.ones(64, 96), requires_grad=True, backend=golden_backend)
    out = F.dropout(x, p=0.25, seed=11)
    out.backward(tc.ones(64, 96, backend=golden_backend))
    y, grad = out.to_torch(), x.grad.to_torch()
    kept = y != 0
    assert abs(kept.float().mean().item() - 0.75) < 0.03
    torch.testing.assert_close(y[kept], torch.full_like(y[kept], 1 / 0.75))
    torch.testing.assert_close(grad, y)


def test_copy_and_zero_write_into_the_same_array(golden_backend):
    t = tc.tensor(torch.randn(5, 40), backend=golden_backend)
    array = t.data
    t.copy_(torch.arange(200.0).reshape(5, 40))
    assert t.data is array
    torch.testing.assert_close(t.to_torch(), torch.arange(200.0).reshape(5, 40))
    t.zero_()
    assert t.data is array and not t.to_torch().any()
