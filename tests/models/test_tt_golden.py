"""The same model code on the tt backend (ttnn golden functions) as on the reference."""

from __future__ import annotations

import pytest

ttnn = pytest.importorskip("ttnn")

import torch  # noqa: E402

from tests.models.hf_helpers import batch, hf_model  # noqa: E402
from ttcustom.generation import generate  # noqa: E402
from ttcustom.lora import apply_lora  # noqa: E402
from ttcustom.models import from_hf  # noqa: E402

pytestmark = pytest.mark.tt
TOL = dict(rtol=1e-3, atol=1e-4)


def _step(model, ids, labels, mask=None):
    out = model(ids, attention_mask=mask, labels=labels)
    out.loss.backward()
    grads = {n: p.grad.to_torch() for n, p in model.named_parameters() if p.requires_grad}
    return out.loss.item(), out.logits.to_torch(), grads


@pytest.mark.parametrize("arch", ["llama", "qwen2", "qwen3", "gpt2"])
def test_forward_loss_and_grads_match_the_reference_backend(arch, golden_backend,
                                                            reference_backend):
    ids, labels = batch()
    mask = torch.ones_like(ids)
    mask[1, -3:] = 0
    loss, logits, grads = _step(from_hf(hf_model(arch), torch.float32, golden_backend),
                                ids, labels, mask)
    ref_loss, ref_logits, ref_grads = _step(from_hf(hf_model(arch), backend=reference_backend),
                                            ids, labels, mask)
    assert loss == pytest.approx(ref_loss, rel=1e-4)
    real = mask.bool()
    torch.testing.assert_close(logits[real], ref_logits[real], **TOL)
    for name in ref_grads:
        torch.testing.assert_close(grads[name], ref_grads[name], **TOL,
                                   msg=lambda m, n=name: f"grad of {n}: {m}")


def test_lora_with_gradient_checkpointing_matches_the_reference(golden_backend, reference_backend):
    ids, labels = batch()
    results = []
    for backend in (golden_backend, reference_backend):
        model = apply_lora(from_hf(hf_model("llama"), torch.float32, backend), r=4)
        model.gradient_checkpointing_enable()
        results.append(_step(model, ids, labels))
    (loss, _, grads), (ref_loss, _, ref_grads) = results
    assert loss == pytest.approx(ref_loss, rel=1e-4)
    for name in ref_grads:
        torch.testing.assert_close(grads[name], ref_grads[name], **TOL)


def test_greedy_generation_with_kv_cache_matches_the_reference(golden_backend, reference_backend):
    ids = torch.tensor([[0, 0, 17, 5, 33, 60], [12, 7, 81, 4, 9, 45]])
    mask = torch.tensor([[0, 0, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1]])
    outs = [generate(from_hf(hf_model("llama"), torch.float32, b), ids, 6, temperature=0,
                     attention_mask=mask, eos_token_id=[])
            for b in (golden_backend, reference_backend)]
    assert outs[0].tolist() == outs[1].tolist()


def test_bfloat16_default_of_the_tt_backend_stays_close_to_float32(golden_backend,
                                                                   reference_backend):
    ids, labels = batch()
    model = from_hf(hf_model("llama"), backend=golden_backend)
    assert model.embed_tokens.weight.dtype == torch.bfloat16
    loss = model(ids, labels=labels).loss.item()
    ref_loss = from_hf(hf_model("llama"), backend=reference_backend)(ids, labels=labels).loss
    assert loss == pytest.approx(ref_loss.item(), rel=2e-2)
