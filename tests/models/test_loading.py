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
