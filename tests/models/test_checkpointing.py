"""Gradient checkpointing: same loss and gradients, far fewer activations kept."""

import pytest
import torch

import ttcustom as tc
from tests.models.hf_helpers import batch, hf_model
from ttcustom.autograd.function import _topological_order
from ttcustom.lora import apply_lora
from ttcustom.models import from_hf


def _loss_and_grads(model, checkpointing):
    model.gradient_checkpointing = checkpointing
    model.zero_grad()
    ids, labels = batch()
    loss = model(ids, labels=labels).loss
    saved = sum(len(node.saved or ()) for node in _topological_order(loss.grad_fn)
                if hasattr(node, "saved"))
    loss.backward()
    grads = {n: p.grad.to_torch() for n, p in model.named_parameters() if p.requires_grad}
    return loss.item(), grads, saved


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
def test_checkpointed_blocks_give_the_same_gradients(arch):
    model = from_hf(hf_model(arch))
    loss, grads, saved = _loss_and_grads(model, False)
    loss_ckpt, grads_ckpt, saved_ckpt = _loss_and_grads(model, True)
    assert loss_ckpt == pytest.approx(loss, abs=1e-6)
    assert grads_ckpt.keys() == grads.keys()
    for name in grads:
        torch.testing.assert_close(grads_ckpt[name], grads[name], rtol=1e-5, atol=1e-6)
    assert saved_ckpt < saved / 4  # arrays held for backward


def test_lora_adapters_get_gradients_through_checkpointed_blocks():
    # the embedding is frozen, so the blocks' input needs no grad; adapters still must
    model = apply_lora(from_hf(hf_model("llama")), r=4)
    _, grads, _ = _loss_and_grads(model, False)
    _, grads_ckpt, _ = _loss_and_grads(model, True)
    assert grads_ckpt.keys() == grads.keys() and len(grads) == 8
    for name in grads:
        torch.testing.assert_close(grads_ckpt[name], grads[name], rtol=1e-5, atol=1e-6)


def test_dropout_masks_are_replayed_in_the_recomputation():
    model = from_hf(hf_model("gpt2"))
    model.config.hidden_dropout = 0.3
    for layer in model.layers:
        layer.dropout = tc.nn.Dropout(0.3)
    model.train()
    tc.manual_seed(5)
    loss, grads, _ = _loss_and_grads(model, False)
    tc.manual_seed(5)
    loss_ckpt, grads_ckpt, _ = _loss_and_grads(model, True)
    assert loss_ckpt == pytest.approx(loss, abs=1e-6)
    for name in grads:
        torch.testing.assert_close(grads_ckpt[name], grads[name], rtol=1e-5, atol=1e-6)
