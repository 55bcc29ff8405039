"""Converted models reproduce transformers: logits, loss and every parameter's gradient."""

import pytest
import torch

from tests.models.hf_helpers import HF_CONFIGS, batch, hf_model, ours_by_hf_name
from ttcustom.models import from_hf

TOL = dict(rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("arch", sorted(HF_CONFIGS))
def test_logits_loss_and_grads_match_transformers(arch):
    reference = hf_model(arch)
    model = from_hf(reference)
    ids, labels = batch()

    expected = reference(input_ids=ids, labels=labels)
    expected.loss.backward()
    out = model(ids, labels=labels)
    out.loss.backward()

    torch.testing.assert_close(out.logits.to_torch(), expected.logits.detach(), **TOL)
    torch.testing.assert_close(out.loss.to_torch(), expected.loss.detach(), **TOL)
    ours = ours_by_hf_name(model)
    hf_params = dict(reference.named_parameters())
    assert set(ours) == set(hf_params)
    for name, (param, transposed) in ours.items():
        grad = param.grad.to_torch()
        expected_grad = hf_params[name].grad
        expected_grad = expected_grad.t() if transposed else expected_grad
        torch.testing.assert_close(grad, expected_grad, **TOL, msg=lambda m, n=name: f"{n}: {m}")
