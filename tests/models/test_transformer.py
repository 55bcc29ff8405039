"""Pieces of ttcustom.nn.transformer against their references."""

import pytest
import torch
import transformers
from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

import ttcustom as tc
from tests.models.hf_helpers import TINY, batch, hf_model
from ttcustom.models import from_hf
from ttcustom.nn.transformer import rope_inv_freq

SCALINGS = [
    {"rope_type": "linear", "factor": 4.0},
    {"rope_type": "dynamic", "factor": 2.0},
    {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
     "original_max_position_embeddings": 64},
]


@pytest.mark.parametrize("scaling", SCALINGS, ids=lambda s: s["rope_type"])
@pytest.mark.parametrize("seq_len", [None, 300])
def test_rope_frequencies_equal_transformers(scaling, seq_len):
    config = transformers.LlamaConfig(**(TINY | {"max_position_embeddings": 128}),
                                      rope_parameters={"rope_theta": 5e5, **scaling})
    # at run time transformers passes seq_len as a tensor (max(position_ids) + 1)
    hf_seq_len = None if seq_len is None else torch.tensor(seq_len)
    expected, _ = ROPE_INIT_FUNCTIONS[scaling["rope_type"]](config, seq_len=hf_seq_len)
    ours = rope_inv_freq(16, 5e5, scaling, 128, seq_len=seq_len)
    assert torch.equal(ours, expected)


def _layer_outputs(model, ids, mask):
    return model(ids, attention_mask=mask).logits.to_torch()


def test_attention_computed_op_by_op_equals_fused_attention(monkeypatch):
    model = from_hf(hf_model("llama"))  # GQA: 4 query heads on 2 kv heads
    ids, _ = batch()
    mask = torch.ones_like(ids)
    mask[1, -3:] = 0
    fused = _layer_outputs(model.train(), ids, mask)
    for layer in model.layers:
        layer.attn.dropout = 0.5
    monkeypatch.setattr(tc.functional, "dropout", lambda x, p, training=True, seed=None: x)
    explicit = _layer_outputs(model, ids, mask)
    real = mask.bool()
    torch.testing.assert_close(explicit[real], fused[real], rtol=1e-5, atol=1e-5)


def test_attention_dropout_acts_in_training_only_and_is_seeded():
    reference = hf_model("gpt2")
    reference.config.attn_pdrop = 0.2
    model = from_hf(reference)
    ids, _ = batch()
    evaluated = model.eval()(ids).logits.to_torch()
    torch.testing.assert_close(evaluated, reference(input_ids=ids).logits.detach(),
                               rtol=1e-4, atol=1e-4)
    model.train()
    tc.manual_seed(3)
    first = model(ids).logits.to_torch()
    tc.manual_seed(3)
    again = model(ids).logits.to_torch()
    assert torch.equal(first, again)
    assert not torch.allclose(first, evaluated, atol=1e-3)


def test_gpt2_checkpoint_dropout_probabilities_reach_the_model():
    config = hf_model("gpt2").config
    config.update(dict(attn_pdrop=0.1, resid_pdrop=0.1, embd_pdrop=0.1))
    model = from_hf(transformers.GPT2LMHeadModel(config))
    assert model.layers[1].attn.dropout == pytest.approx(0.1)
    assert model.layers[1].dropout.p == pytest.approx(0.1)
    assert model.embed_dropout.p == pytest.approx(0.1)


def test_fused_qkv_attention_equals_the_op_by_op_heads(monkeypatch):
    """A fused q|k|v projection (GPT-2) runs attention as one F.qkv_attention; its output
    and gradients equal the split/merge path a KV cache takes."""
    from ttcustom.nn.transformer import Attention, AttentionInputs, LayerKV

    tc.manual_seed(0)
    attn = Attention(32, 4, 2, 8, qkv_bias=True, o_bias=True, fused_qkv=True)
    x = torch.randn(2, 6, 32)
    inputs = AttentionInputs(None, None, None, True)
    calls = []
    fused_op = tc.functional.qkv_attention
    monkeypatch.setattr(tc.functional, "qkv_attention",
                        lambda *a, **k: calls.append(1) or fused_op(*a, **k))

    def run(cache):
        attn.zero_grad()
        xt = tc.tensor(x, requires_grad=True)
        out = attn(xt, inputs, cache)
        (out * out).sum().backward()
        return out.to_torch(), xt.grad.to_torch(), attn.qkv_proj.weight.grad.to_torch()

    fused = run(None)
    assert calls == [1]
    for a, b in zip(fused, run(LayerKV())):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    assert calls == [1]
