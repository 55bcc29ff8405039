"""Broken checkpoints fail with errors that name the file, the tensor and the fix."""

import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from tests.models.hf_helpers import hf_model
from ttcustom.models import CheckpointError, ConfigError, from_hf

WEIGHTS = "model.safetensors"
Q_PROJ = "model.layers.1.self_attn.q_proj.weight"


@pytest.fixture
def checkpoint(tmp_path):
    hf_model("llama").save_pretrained(tmp_path)
    return tmp_path


def _rewrite(directory, change):
    tensors = load_file(directory / WEIGHTS)
    change(tensors)
    save_file(tensors, directory / WEIGHTS, metadata={"format": "pt"})


def test_directory_without_config_json(checkpoint):
    (checkpoint / "config.json").unlink()
    with pytest.raises(CheckpointError, match=rf"{checkpoint}: no config\.json"):
        from_hf(checkpoint)


def test_missing_directory_says_how_to_download(tmp_path):
    with pytest.raises(CheckpointError, match="no such checkpoint directory.*huggingface-cli"):
        from_hf(tmp_path / "absent")


def test_unknown_architecture_names_config_and_supported_types(checkpoint):
    config = json.loads((checkpoint / "config.json").read_text())
    config.update(model_type="bert", architectures=["BertForMaskedLM"])
    (checkpoint / "config.json").write_text(json.dumps(config))
    with pytest.raises(ConfigError, match=r"config\.json: model_type 'bert'.*BertForMaskedLM.*"
                                          r"supported: llama"):
        from_hf(checkpoint)


def test_config_without_a_required_key(checkpoint):
    config = json.loads((checkpoint / "config.json").read_text())
    del config["hidden_size"]
    (checkpoint / "config.json").write_text(json.dumps(config))
    with pytest.raises(ConfigError, match=r"config\.json: required key 'hidden_size'"):
        from_hf(checkpoint)


def test_missing_tensor_is_named(checkpoint):
    _rewrite(checkpoint, lambda t: t.pop(Q_PROJ))
    with pytest.raises(CheckpointError, match=rf"missing tensors \(1\): {Q_PROJ}"):
        from_hf(checkpoint)


def test_mis_shaped_tensor_names_file_tensor_and_shapes(checkpoint):
    _rewrite(checkpoint, lambda t: t.update({Q_PROJ: torch.zeros(64, 32)}))
    with pytest.raises(CheckpointError, match=rf"{Q_PROJ} in .*{WEIGHTS} has shape \[64, 32\], "
                                              r"the config implies \[64, 64\]"):
        from_hf(checkpoint)


def test_unexpected_tensor_is_named(checkpoint):
    _rewrite(checkpoint, lambda t: t.update({"model.extra.weight": torch.zeros(3)}))
    with pytest.raises(CheckpointError, match=r"unexpected tensors \(1\): model\.extra\.weight"):
        from_hf(checkpoint)


def test_truncated_safetensors_names_file_and_first_cut_tensor(checkpoint):
    path = checkpoint / WEIGHTS
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 1000])
    with pytest.raises(CheckpointError, match=rf"{WEIGHTS}: tensor '.+' needs bytes up to \d+ "
                                              r"but the file has \d+: the file is truncated"):
        from_hf(checkpoint)


def test_missing_shard_names_the_index_and_the_shard(tmp_path):
    hf_model("llama").save_pretrained(tmp_path, max_shard_size="40KB")
    shard = sorted(tmp_path.glob("model-*.safetensors"))[-1]
    shard.unlink()
    with pytest.raises(CheckpointError, match=rf"index\.json: shard '{shard.name}' listed in "
                                              "the index is missing"):
        from_hf(tmp_path)


def test_unsupported_sliding_window_is_refused_when_it_would_matter():
    model = from_hf(hf_model("mistral"))
    model.config.sliding_window = 8
    with pytest.raises(NotImplementedError, match="exceed sliding_window=8"):
        model(torch.zeros(1, 9, dtype=torch.long))
