"""The architecture registry: a new architecture is one spec file plus one registration
(the toy of `toy_architecture.py`, docs/models.md's worked example)."""

import dataclasses
import json

import pytest
import torch
import transformers
from safetensors.torch import load_file

from tests.models.hf_helpers import TINY, batch, hf_model
from tests.models.toy_architecture import TOY, ToyForCausalLM
from ttcustom.export import to_hf
from ttcustom.lora import LoRALinear, apply_lora
from ttcustom.models import (
    ConfigError,
    ModelConfig,
    build_model,
    from_hf,
    model_class,
    model_types,
    register_architecture,
)
from ttcustom.models import architecture as registry_store

TOL = dict(rtol=1e-4, atol=1e-4)


@pytest.fixture
def toy(monkeypatch):
    """TOY registered for one test (the registry is restored afterwards)."""
    monkeypatch.setattr(registry_store, "_REGISTRY", dict(registry_store.registered()))
    return register_architecture(TOY)


@pytest.fixture
def toy_checkpoint(toy, tmp_path):
    """A tiny random Llama checkpoint whose config.json names the toy model type."""
    hf_model("llama").save_pretrained(tmp_path / "toy")
    path = tmp_path / "toy" / "config.json"
    config = json.loads(path.read_text())
    path.write_text(json.dumps(config | {"model_type": "toy", "architectures": ["ToyForCausalLM"]}))
    return tmp_path / "toy"


def test_a_registered_architecture_is_built_from_its_config(toy):
    model = build_model(ModelConfig(model_type="toy", **TINY))
    assert type(model) is ToyForCausalLM is model_class("toy")
    assert model.config.architecture == "ToyForCausalLM"
    assert "toy" in model_types()


def test_a_registered_architecture_loads_a_checkpoint_with_transformers_logits(toy_checkpoint):
    model = from_hf(toy_checkpoint)
    ids, _ = batch()
    expected = hf_model("llama")(input_ids=ids).logits.detach()
    torch.testing.assert_close(model(ids).logits.to_torch(), expected, **TOL)


def test_a_registered_architecture_exports_the_checkpoint_it_loaded(toy_checkpoint, tmp_path):
    to_hf(from_hf(toy_checkpoint), tmp_path / "out")
    config = json.loads((tmp_path / "out" / "config.json").read_text())
    assert (config["model_type"], config["architectures"]) == ("toy", ["ToyForCausalLM"])
    source = load_file(toy_checkpoint / "model.safetensors")
    written = load_file(tmp_path / "out" / "model.safetensors")
    assert source.keys() == written.keys()
    assert all(torch.equal(source[k], written[k]) for k in source)
    reloaded = transformers.LlamaForCausalLM.from_pretrained(tmp_path / "out").eval()
    ids, _ = batch()
    torch.testing.assert_close(reloaded(input_ids=ids).logits.detach(),
                               hf_model("llama")(input_ids=ids).logits.detach(), **TOL)


def test_lora_default_targets_come_from_the_architecture(toy):
    model = apply_lora(build_model(ModelConfig(model_type="toy", **TINY)))
    wrapped = {n.rsplit(".", 1)[-1] for n, m in model.named_modules() if isinstance(m, LoRALinear)}
    assert wrapped == set(TOY.lora_targets)


def test_a_taken_model_type_cannot_be_registered_again(toy):
    with pytest.raises(ValueError, match="'llama' is already registered"):
        register_architecture(dataclasses.replace(TOY, model_type="llama"))


def test_an_unknown_model_type_lists_every_registered_one():
    with pytest.raises(ConfigError, match="supported") as raised:
        ModelConfig(model_type="bert")
    assert all(repr(name) in str(raised.value) for name in model_types())
    assert "mistral" in model_types()
