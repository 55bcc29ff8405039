"""LoRA: same numbers as PEFT, frozen base, PEFT adapter export, merged export."""

import json

import pytest

peft = pytest.importorskip("peft")

import torch  # noqa: E402
import transformers  # noqa: E402

import ttcustom as tc  # noqa: E402
from tests.models.hf_helpers import batch, hf_model  # noqa: E402
from ttcustom.export import merge_lora, to_hf, to_peft  # noqa: E402
from ttcustom.lora import LoRALinear, apply_lora  # noqa: E402
from ttcustom.models import from_hf  # noqa: E402

TOL = dict(rtol=1e-4, atol=1e-4)
TARGETS = {"llama": ["q_proj", "v_proj", "down_proj"], "qwen3": ["k_proj", "o_proj"],
           "gpt2": ["c_attn", "c_fc"]}


def _train(model, steps=3, lr=1e-2):
    optimizer = tc.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr)
    ids, labels = batch()
    for _ in range(steps):
        optimizer.zero_grad()
        model(ids, labels=labels).loss.backward()
        optimizer.step()
    return model


@pytest.mark.parametrize("arch", sorted(TARGETS))
def test_lora_forward_and_adapter_grads_match_peft(arch):
    model = apply_lora(from_hf(hf_model(arch)), r=4, alpha=8, target_modules=TARGETS[arch])
    reference = peft.get_peft_model(hf_model(arch), peft.LoraConfig(
        r=4, lora_alpha=8, target_modules=TARGETS[arch], task_type="CAUSAL_LM"))
    hf_lora = {n: p for n, p in reference.named_parameters() if "lora_" in n}
    ours = {}
    for name, module in model.named_modules():
        if isinstance(module, LoRALinear):
            hf_name = f"base_model.model.{model.weight_table.lookup(name + '.weight')[0]}"
            hf_name = hf_name.removesuffix(".weight")
            for part in ("lora_A", "lora_B"):
                ours[f"{hf_name}.{part}.default.weight"] = getattr(module, part)
    assert set(ours) == set(hf_lora)
    with torch.no_grad():
        for name, param in ours.items():  # B is zero at init: give both the same random B
            hf_lora[name].copy_(torch.randn(param.shape) * 0.1)
            param.copy_(hf_lora[name].detach())
    ids, labels = batch()
    expected = reference(input_ids=ids, labels=labels)
    expected.loss.backward()
    out = model(ids, labels=labels)
    out.loss.backward()
    torch.testing.assert_close(out.logits.to_torch(), expected.logits.detach(), **TOL)
    for name, param in ours.items():
        torch.testing.assert_close(param.grad.to_torch(), hf_lora[name].grad, **TOL)


def test_apply_lora_freezes_everything_but_the_adapters():
    model = apply_lora(from_hf(hf_model("llama")), r=4, target_modules=["q_proj", "v_proj"])
    trainable = sorted(n for n, p in model.named_parameters() if p.requires_grad)
    assert trainable == [f"layers.{i}.attn.{m}.lora_{ab}" for i in (0, 1)
                         for m in ("q_proj", "v_proj") for ab in "AB"]
    out = model(*batch()[:1], labels=batch()[1])
    out.loss.backward()
    assert model.embed_tokens.weight.grad is None


def test_unknown_target_module_is_an_error_listing_the_choices():
    with pytest.raises(ValueError, match=r"\['qkv'\].*available: \['down_proj'"):
        apply_lora(from_hf(hf_model("llama")), target_modules=["qkv"])


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
def test_trained_adapter_loads_in_peft_with_equal_logits(arch, tmp_path):
    model = _train(apply_lora(from_hf(hf_model(arch)), r=4, alpha=8, target_modules=TARGETS[arch]))
    to_peft(model, tmp_path / "adapter", base_model_name_or_path="tiny-base")

    config = json.loads((tmp_path / "adapter" / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == "tiny-base"
    reloaded = peft.PeftModel.from_pretrained(hf_model(arch), tmp_path / "adapter").eval()
    ids, _ = batch()
    torch.testing.assert_close(reloaded(input_ids=ids).logits.detach(),
                               model(ids).logits.to_torch(), **TOL)


def test_merged_export_reloads_in_transformers_with_equal_logits(tmp_path):
    model = _train(apply_lora(from_hf(hf_model("llama")), r=4, alpha=8))
    ids, _ = batch()
    before = model(ids).logits.to_torch()
    to_hf(model, tmp_path / "unmerged")  # LoRA folded in on the fly, model unchanged
    merge_lora(model)
    assert not any(isinstance(m, LoRALinear) for m in model.modules())
    torch.testing.assert_close(model(ids).logits.to_torch(), before, **TOL)
    to_hf(model, tmp_path / "merged")
    for directory in ("unmerged", "merged"):
        reloaded = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / directory).eval()
        torch.testing.assert_close(reloaded(input_ids=ids).logits.detach(), before, **TOL)


def test_to_peft_without_lora_layers_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="no LoRA layers"):
        to_peft(from_hf(hf_model("llama")), tmp_path / "adapter")
