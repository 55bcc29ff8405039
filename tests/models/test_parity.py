"""Converted models reproduce transformers: logits, loss and every parameter's gradient."""

import pytest
import torch

import ttcustom as tc
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


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
def test_padded_batch_matches_transformers(arch):
    reference = hf_model(arch)
    model = from_hf(reference)
    ids, labels = batch()
    mask = torch.ones_like(ids)
    mask[1, -4:] = 0
    labels[1, -4:] = -100

    expected = reference(input_ids=ids, attention_mask=mask, labels=labels)
    expected.loss.backward()
    out = model(ids, attention_mask=mask, labels=labels)
    out.loss.backward()

    real = mask.bool()
    torch.testing.assert_close(out.logits.to_torch()[real], expected.logits.detach()[real], **TOL)
    torch.testing.assert_close(out.loss.to_torch(), expected.loss.detach(), **TOL)
    hf_params = dict(reference.named_parameters())
    for name, (param, transposed) in ours_by_hf_name(model).items():
        expected_grad = hf_params[name].grad.t() if transposed else hf_params[name].grad
        torch.testing.assert_close(param.grad.to_torch(), expected_grad, **TOL)


def test_device_tensor_inputs_give_the_same_loss_as_host_tensors():
    model = from_hf(hf_model("llama"))
    ids, labels = batch()
    mask = torch.ones_like(ids)
    mask[0, -2:] = 0
    host = model(ids, attention_mask=mask, labels=labels)
    device = model(tc.from_torch(ids), attention_mask=tc.from_torch(mask),
                   labels=tc.from_torch(labels))
    torch.testing.assert_close(device.loss.to_torch(), host.loss.to_torch())
    torch.testing.assert_close(device.logits.to_torch(), host.logits.to_torch())


@pytest.mark.parametrize("arch", ["llama", "qwen3", "gpt2"])
def test_bfloat16_model_is_as_accurate_as_transformers_in_bfloat16(arch):
    reference = hf_model(arch)
    ids, labels = batch()
    exact = reference(input_ids=ids).logits.detach()
    hf_bf16 = reference.to(torch.bfloat16)(input_ids=ids).logits.detach().float()
    ours = from_hf(reference, dtype=torch.bfloat16)(ids).logits.to_torch().float()
    hf_error = (hf_bf16 - exact).abs().max()
    assert (ours - exact).abs().max() <= 1.5 * hf_error + 1e-3
