"""from_hf reads transformers checkpoint directories: single file, sharded, pickle opt-in."""

import pytest
import torch

from tests.models.hf_helpers import batch, hf_model
from ttcustom.models import CheckpointError, LlamaForCausalLM, from_hf


def _logits(model, ids):
    return model(ids).logits.to_torch()


def test_directory_with_one_safetensors_file(tmp_path):
    reference = hf_model("llama")
    reference.save_pretrained(tmp_path)
    model = from_hf(tmp_path)
    ids, _ = batch()
    assert isinstance(model, LlamaForCausalLM)
    torch.testing.assert_close(_logits(model, ids), reference(input_ids=ids).logits.detach(),
                               rtol=1e-4, atol=1e-4)


def test_sharded_directory_loads_every_shard(tmp_path):
    reference = hf_model("qwen2")
    reference.save_pretrained(tmp_path, max_shard_size="40KB")
    assert (tmp_path / "model.safetensors.index.json").is_file()
    model = from_hf(tmp_path)
    ids, _ = batch()
    torch.testing.assert_close(_logits(model, ids), reference(input_ids=ids).logits.detach(),
                               rtol=1e-4, atol=1e-4)


def test_pickle_checkpoint_is_refused_without_opt_in(tmp_path):
    reference = hf_model("llama")
    reference.config.save_pretrained(tmp_path)
    torch.save(reference.state_dict(), tmp_path / "pytorch_model.bin")
    with pytest.raises(CheckpointError, match=r"pytorch_model\.bin.*allow_pickle=True"):
        from_hf(tmp_path)
    model = from_hf(tmp_path, allow_pickle=True)
    ids, _ = batch()
    torch.testing.assert_close(_logits(model, ids), reference(input_ids=ids).logits.detach(),
                               rtol=1e-4, atol=1e-4)


def test_bfloat16_checkpoint_loads_as_requested_dtype_and_records_its_own(tmp_path):
    reference = hf_model("llama").to(torch.bfloat16)
    reference.save_pretrained(tmp_path)
    model = from_hf(tmp_path, dtype=torch.float32)
    assert model.embed_tokens.weight.dtype == torch.float32
    assert model.config.dtype == "bfloat16"
    expected = reference.model.embed_tokens.weight.detach().float()
    assert torch.equal(model.embed_tokens.weight.to_torch(), expected)


def _legacy_gpt2(state):
    """The hub's gpt2 layout: no `transformer.` prefix, causal-mask buffers per layer."""
    out = {k.removeprefix("transformer."): v for k, v in state.items() if k != "lm_head.weight"}
    for i in range(2):
        out[f"h.{i}.attn.bias"] = torch.ones(1, 1, 128, 128).tril()
        out[f"h.{i}.attn.masked_bias"] = torch.tensor(-1e4)
    return out


def _legacy_llama(state):
    """transformers < 4.31 saved the rotary inverse frequencies of every layer."""
    return state | {f"model.layers.{i}.self_attn.rotary_emb.inv_freq": torch.ones(8)
                    for i in range(2)}


@pytest.mark.parametrize(("arch", "legacy"), [("gpt2", _legacy_gpt2), ("llama", _legacy_llama)])
def test_legacy_checkpoint_layouts_load(arch, legacy, tmp_path):
    from safetensors.torch import save_file

    reference = hf_model(arch)
    reference.config.save_pretrained(tmp_path)
    state = {k: v.contiguous() for k, v in reference.state_dict().items()}
    save_file(legacy(state), tmp_path / "model.safetensors", metadata={"format": "pt"})
    ids, _ = batch()
    torch.testing.assert_close(_logits(from_hf(tmp_path), ids),
                               reference(input_ids=ids).logits.detach(), rtol=1e-4, atol=1e-4)


def test_hub_id_is_fetched_without_pickles_unless_allowed(tmp_path, monkeypatch):
    import huggingface_hub

    hf_model("llama").save_pretrained(tmp_path)
    calls = []

    def snapshot_download(repo_id, allow_patterns, ignore_patterns):
        calls.append((repo_id, allow_patterns))
        return str(tmp_path)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    assert isinstance(from_hf("TinyOrg/tiny-llama"), LlamaForCausalLM)
    from_hf("TinyOrg/tiny-llama", allow_pickle=True)
    assert calls[0][0] == "TinyOrg/tiny-llama"
    assert "*.safetensors" in calls[0][1] and not any(".bin" in p for p in calls[0][1])
    assert any(".bin" in p for p in calls[1][1])


def test_unreachable_hub_id_is_a_clear_error(monkeypatch):
    import huggingface_hub

    def offline(*args, **kwargs):
        raise OSError("no network")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", offline)
    with pytest.raises(CheckpointError, match=r"TinyOrg/absent: not a local directory.*"
                                              r"no network.*downloaded checkpoint"):
        from_hf("TinyOrg/absent")


def test_model_loaded_from_a_transformers_model_shares_no_memory_with_it():
    reference = hf_model("llama")
    model = from_hf(reference)
    before = reference.model.norm.weight.detach().clone()
    model.norm.weight.zero_()
    assert torch.equal(reference.model.norm.weight.detach(), before)
