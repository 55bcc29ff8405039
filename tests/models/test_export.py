"""to_hf writes checkpoints transformers reloads: bit-identical round trip, sharding, atomicity."""

import json
import os

import pytest
import torch
import transformers
from safetensors import safe_open

import ttcustom as tc
from tests.models.hf_helpers import HF_CONFIGS, batch, hf_model
from ttcustom.export import to_hf
from ttcustom.models import from_hf

TOL = dict(rtol=1e-4, atol=1e-4)
VOLATILE_CONFIG_KEYS = {"transformers_version", "_name_or_path"}


def _tensors(directory):
    out = {}
    for path in sorted(directory.glob("*.safetensors")):
        with safe_open(path, "pt") as f:
            out.update({k: f.get_tensor(k) for k in f.keys()})
    return out


def _config_dict(directory):
    config = transformers.AutoConfig.from_pretrained(directory).to_dict()
    return {k: v for k, v in config.items() if k not in VOLATILE_CONFIG_KEYS}


@pytest.mark.parametrize("arch", sorted(HF_CONFIGS))
def test_round_trip_is_bit_identical(arch, tmp_path):
    hf_model(arch).save_pretrained(tmp_path / "source")
    to_hf(from_hf(tmp_path / "source"), tmp_path / "exported")

    source, exported = _tensors(tmp_path / "source"), _tensors(tmp_path / "exported")
    assert sorted(exported) == sorted(source)
    for name, tensor in source.items():
        assert exported[name].dtype == tensor.dtype, name
        assert torch.equal(exported[name], tensor), name
    assert _config_dict(tmp_path / "exported") == _config_dict(tmp_path / "source")


def test_bfloat16_source_is_exported_in_bfloat16_bit_identical(tmp_path):
    hf_model("llama").to(torch.bfloat16).save_pretrained(tmp_path / "source")
    to_hf(from_hf(tmp_path / "source", dtype=torch.float32), tmp_path / "exported")
    source, exported = _tensors(tmp_path / "source"), _tensors(tmp_path / "exported")
    assert all(torch.equal(exported[n], t) and exported[n].dtype == torch.bfloat16
               for n, t in source.items())
    assert json.loads((tmp_path / "exported" / "config.json").read_text())["dtype"] == "bfloat16"


def test_fine_tuned_model_reloads_in_transformers_with_equal_logits(tmp_path):
    model = from_hf(hf_model("llama"))
    optimizer = tc.optim.AdamW(model.parameters(), lr=1e-2)
    ids, labels = batch()
    for _ in range(3):
        optimizer.zero_grad()
        model(ids, labels=labels).loss.backward()
        optimizer.step()
    to_hf(model, tmp_path / "tuned")

    reloaded = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "tuned").eval()
    torch.testing.assert_close(reloaded(input_ids=ids).logits.detach(),
                               model(ids).logits.to_torch(), **TOL)


def test_large_model_is_sharded_with_an_index_transformers_reads(tmp_path):
    reference = hf_model("qwen2")
    to_hf(from_hf(reference), tmp_path / "out", max_shard_size="50KB")
    index = json.loads((tmp_path / "out" / "model.safetensors.index.json").read_text())
    shards = sorted(set(index["weight_map"].values()))
    assert len(shards) > 1 and shards[0] == f"model-00001-of-{len(shards):05d}.safetensors"
    reloaded = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "out").eval()
    ids, _ = batch()
    torch.testing.assert_close(reloaded(input_ids=ids).logits, reference(input_ids=ids).logits)


def test_failed_export_leaves_the_previous_directory_untouched(tmp_path, monkeypatch):
    model = from_hf(hf_model("llama"))
    to_hf(model, tmp_path / "out")
    before = _tensors(tmp_path / "out")

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("ttcustom.export.hf.write_sharded", fail)
    with pytest.raises(OSError, match="disk full"):
        to_hf(model, tmp_path / "out")
    after = _tensors(tmp_path / "out")
    assert sorted(after) == sorted(before)
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_refuses_to_replace_a_directory_that_is_not_a_checkpoint(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="did not write"):
        to_hf(from_hf(hf_model("llama")), tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_refuses_to_replace_a_model_directory_it_did_not_write(tmp_path):
    """A downloaded model folder (config.json and more) keeps every file."""
    hf_model("llama").save_pretrained(tmp_path / "downloaded")
    (tmp_path / "downloaded" / "README.md").write_text("model card")
    before = sorted(p.name for p in (tmp_path / "downloaded").iterdir())
    with pytest.raises(FileExistsError, match="README.md"):
        to_hf(from_hf(hf_model("llama")), tmp_path / "downloaded")
    assert sorted(p.name for p in (tmp_path / "downloaded").iterdir()) == before


def test_replaces_its_own_export_but_not_a_file_added_to_it(tmp_path):
    model = from_hf(hf_model("llama"))
    to_hf(model, tmp_path / "out")
    to_hf(model, tmp_path / "out")  # its own files: replaced
    (tmp_path / "out" / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="notes.txt"):
        to_hf(model, tmp_path / "out")
    assert (tmp_path / "out" / "notes.txt").read_text() == "mine"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_tokenizer_files_of_the_source_are_copied(tmp_path):
    tokenizers = pytest.importorskip("tokenizers")
    vocab = {f"w{i}": i for i in range(96)}
    backend = tokenizers.Tokenizer(tokenizers.models.WordLevel(vocab, unk_token="w0"))
    backend.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    tokenizer = transformers.PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="w0")
    hf_model("llama").save_pretrained(tmp_path / "source")
    tokenizer.save_pretrained(tmp_path / "source")

    to_hf(from_hf(tmp_path / "source"), tmp_path / "out")
    reloaded = transformers.AutoTokenizer.from_pretrained(tmp_path / "out")
    assert reloaded("w5 w7")["input_ids"] == tokenizer("w5 w7")["input_ids"]


@pytest.mark.parametrize("arch", sorted(HF_CONFIGS))
def test_config_written_from_fields_alone_rebuilds_the_same_model(arch, tmp_path):
    reference = hf_model(arch)
    model = from_hf(reference)
    model.config.hf_source = {}  # as for a model built from scratch: every key is encoded
    to_hf(model, tmp_path / "out")
    reloaded = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "out").eval()
    ids, _ = batch()
    torch.testing.assert_close(reloaded(input_ids=ids).logits, reference(input_ids=ids).logits)


def test_a_killed_exports_temporary_directory_is_removed_by_the_next_export(tmp_path):
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    orphan = tmp_path / f".out.tmp-{dead}-abcd1234"
    orphan.mkdir()
    (orphan / "model.safetensors").write_bytes(bytes(1024))
    live = tmp_path / f".out.tmp-{os.getpid()}-live0000"  # a concurrent export: kept
    live.mkdir()
    to_hf(from_hf(hf_model("llama")), tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == [live.name, "out"]


@pytest.mark.parametrize("arch", ["llama", "llama_linear_rope"])
def test_both_rope_layouts_are_written_for_a_transformers_5_source(arch, tmp_path):
    config = HF_CONFIGS[arch]()
    config.rope_parameters["rope_theta"] = 100000.0
    transformers.AutoModelForCausalLM.from_config(config).save_pretrained(tmp_path / "source")
    assert "rope_theta" not in json.loads((tmp_path / "source" / "config.json").read_text())
    to_hf(from_hf(tmp_path / "source"), tmp_path / "out")
    written = json.loads((tmp_path / "out" / "config.json").read_text())
    parameters = dict(config.rope_parameters)
    assert written["rope_parameters"] == parameters
    assert written["rope_theta"] == 100000.0  # what transformers 4.x (and vLLM on it) reads
    scaling = {k: v for k, v in parameters.items() if k != "rope_theta"}
    assert written["rope_scaling"] == (None if scaling["rope_type"] == "default" else scaling)
