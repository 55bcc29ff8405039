"""Hostile or damaged model files: refused with one line before anything is allocated."""

import json
import struct

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.models.hf_helpers import hf_model
from ttcustom.io import read_header
from ttcustom.models import CheckpointError, ConfigError, ModelConfig, from_hf
from ttcustom.models.sizecheck import check_model_fits

WEIGHTS = "model.safetensors"


@pytest.fixture
def checkpoint(tmp_path):
    hf_model("llama").save_pretrained(tmp_path / "ckpt")
    return tmp_path / "ckpt"


def write_safetensors(path, header: object, data: bytes = b"") -> None:
    raw = json.dumps(header).encode() if not isinstance(header, bytes) else header
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + data)


def edit_config(directory, **changes):
    config = json.loads((directory / "config.json").read_text())
    if "rope_theta" in changes or "rope_scaling" in changes:
        config.pop("rope_parameters", None)  # transformers 5's layout wins over these keys
    config.update(changes)
    (directory / "config.json").write_text(json.dumps(config))


# ------------------------------------------------------------------ safetensors headers
@pytest.mark.parametrize("header,match", [
    ([1, 2], "not a JSON object"),
    ({"w": {"dtype": "F32", "shape": [2], "data_offsets": [-8, 0]}}, "malformed header entry"),
    ({"w": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}}, "malformed header entry"),
    ({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, "8"]}}, "malformed header entry"),
    ({"w": {"dtype": "F32", "shape": [2.0], "data_offsets": [0, 8]}}, "malformed header entry"),
    ({"w": {"dtype": "X9", "shape": [2], "data_offsets": [0, 8]}}, "dtype 'X9', not one of"),
    ({"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, "needs 12 bytes"),
    ({"w": {"dtype": "F32", "shape": [2], "data_offsets": [8, 0]}}, "needs 8 bytes"),
    ({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, "the file is truncated"),
    ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
      "b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, "share bytes"),
    ({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "__metadata__": [1]},
     "__metadata__ must map strings"),
])
def test_a_bad_safetensors_header_is_refused(tmp_path, header, match):
    write_safetensors(tmp_path / WEIGHTS, header, bytes(8))
    with pytest.raises(CheckpointError, match=match):
        read_header(tmp_path / WEIGHTS)


def test_duplicate_tensor_names_in_a_header_are_refused(tmp_path):
    entry = '{"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}'
    write_safetensors(tmp_path / WEIGHTS, f'{{"w": {entry}, "w": {entry}}}'.encode(), bytes(8))
    with pytest.raises(CheckpointError, match="duplicate key 'w'"):
        read_header(tmp_path / WEIGHTS)


def test_a_huge_header_length_is_refused_without_reading_it(tmp_path):
    (tmp_path / WEIGHTS).write_bytes(struct.pack("<Q", 2**62) + b"{}")
    with pytest.raises(CheckpointError, match="header length .* exceeds"):
        read_header(tmp_path / WEIGHTS)


def test_a_flipped_byte_in_a_models_header_is_detected(checkpoint):
    path = checkpoint / WEIGHTS
    data = bytearray(path.read_bytes())
    data[20] ^= 0x01  # inside the JSON header
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=str(path)):
        from_hf(checkpoint)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=300))
def test_fuzzed_headers_load_or_raise_checkpoint_error(tmp_path, raw):
    path = tmp_path / "fuzz.safetensors"
    write_safetensors(path, raw, bytes(64))
    try:
        header = read_header(path)
    except CheckpointError:
        return
    for info in header.tensors.values():
        assert 0 <= info.begin <= info.end <= path.stat().st_size


entry = st.fixed_dictionaries({
    "dtype": st.sampled_from(["F32", "F16", "I64", "BOOL", "Q4", 7]),
    "shape": st.lists(st.integers(-2, 5), max_size=3),
    "data_offsets": st.lists(st.integers(-4, 80), min_size=0, max_size=3)})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(st.text(min_size=1, max_size=4), entry, max_size=4))
def test_fuzzed_entries_never_reach_outside_the_file_or_overlap(tmp_path, header):
    path = tmp_path / "fuzz.safetensors"
    write_safetensors(path, header, bytes(64))
    try:
        tensors = sorted(read_header(path).tensors.values(), key=lambda t: t.begin)
    except CheckpointError:
        return
    for a, b in zip(tensors, tensors[1:]):
        assert a.end <= b.begin or a.begin == a.end or b.begin == b.end


# ------------------------------------------------------------------ shard indexes
@pytest.mark.parametrize("shard", ["../outside.safetensors", "/etc/passwd", "sub/../../x",
                                   "..\\x.safetensors"])
def test_a_shard_index_may_only_name_files_inside_the_directory(checkpoint, shard):
    (checkpoint.parent / "outside.safetensors").write_bytes((checkpoint / WEIGHTS).read_bytes())
    (checkpoint / WEIGHTS).rename(checkpoint / "model-00001-of-00001.safetensors")
    (checkpoint / "model.safetensors.index.json").write_text(json.dumps(
        {"weight_map": {"model.embed_tokens.weight": shard}}))
    with pytest.raises(CheckpointError, match="points outside the checkpoint directory"):
        from_hf(checkpoint)


def test_a_shard_index_without_a_weight_map_object_is_refused(checkpoint):
    (checkpoint / "model.safetensors.index.json").write_text('{"weight_map": ["a"]}')
    with pytest.raises(CheckpointError, match="not a valid shard index"):
        from_hf(checkpoint)


# ------------------------------------------------------------------ config.json
@pytest.mark.parametrize("changes,match", [
    ({"hidden_size": "64"}, "hidden_size must be a positive integer, got '64'"),
    ({"hidden_size": 64.0}, "hidden_size must be a positive integer"),
    ({"num_hidden_layers": -1}, "num_hidden_layers must be a positive integer"),
    ({"num_hidden_layers": 1e6}, "num_hidden_layers must be a positive integer"),
    ({"num_attention_heads": 0}, "num_attention_heads must be a positive integer"),
    ({"rope_theta": 0}, "rope_theta must be a positive number"),
    ({"rope_theta": -5.0}, "rope_theta must be a positive number"),
    ({"rope_scaling": {"rope_type": "linear", "factor": 0}}, r"needs factor as a positive"),
    ({"rope_scaling": {"rope_type": "llama3", "factor": 8.0}}, "needs low_freq_factor"),
    ({"rope_scaling": {"rope_type": "dynamic"}}, "needs factor"),
    ({"rope_scaling": "linear"}, "rope_scaling must be an object"),
    ({"rms_norm_eps": "1e-5"}, "norm_eps must be a positive number"),
])
def test_a_bad_config_json_names_the_key(checkpoint, changes, match):
    edit_config(checkpoint, **changes)
    with pytest.raises(ConfigError, match=match):
        from_hf(checkpoint)


def test_a_config_json_that_is_a_list_is_refused(checkpoint):
    (checkpoint / "config.json").write_text("[1, 2]")
    with pytest.raises(ConfigError, match="must hold a JSON object"):
        from_hf(checkpoint)


def test_duplicate_keys_in_config_json_are_refused(checkpoint):
    text = (checkpoint / "config.json").read_text()
    (checkpoint / "config.json").write_text(text.replace("{", '{"hidden_size": 8,', 1))
    with pytest.raises(CheckpointError, match="config.json: duplicate key 'hidden_size'"):
        from_hf(checkpoint)


def test_a_model_too_large_for_memory_is_refused_before_allocating(checkpoint):
    edit_config(checkpoint, hidden_size=10**9, intermediate_size=10**9,
                num_attention_heads=1, num_key_value_heads=1, head_dim=64)
    with pytest.raises(ConfigError, match="GiB of memory is available"):
        from_hf(checkpoint)


def test_a_million_layers_is_refused_fast(checkpoint):
    config = ModelConfig(vocab_size=32000, hidden_size=2048, intermediate_size=5632,
                         num_hidden_layers=10**6)
    with pytest.raises(ConfigError, match="num_hidden_layers=1000000"):
        check_model_fits(config, torch.float32, available=64 * 2**30)


def test_a_huge_head_is_refused_without_building_its_rotary_tables():
    # head_dim 10**9: the rotary cos/sin tables alone would be 16 TB on the host
    config = ModelConfig(vocab_size=32000, hidden_size=10**9, intermediate_size=10**9,
                         num_hidden_layers=2, num_attention_heads=1)
    with pytest.raises(ConfigError, match="hidden_size=1000000000"):
        check_model_fits(config, torch.float32, available=64 * 2**30)


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(
    st.sampled_from(["vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
                     "num_attention_heads", "num_key_value_heads", "rope_theta", "rms_norm_eps",
                     "max_position_embeddings", "rope_scaling", "head_dim"]),
    st.one_of(st.integers(-3, 64), st.floats(allow_nan=True), st.text(max_size=3), st.none(),
              st.lists(st.integers(), max_size=2),
              st.dictionaries(st.sampled_from(["rope_type", "factor", "type"]),
                              st.one_of(st.sampled_from(["linear", "llama3", "dynamic", "yarn"]),
                                        st.floats(-1, 4)), max_size=3)),
    max_size=4))
def test_fuzzed_config_values_build_or_raise_config_error(changes):
    hf = {"model_type": "llama", "vocab_size": 32, "hidden_size": 16, "intermediate_size": 32,
          "num_hidden_layers": 1, "num_attention_heads": 2, **changes}
    try:
        ModelConfig.from_hf_dict(hf)
    except ConfigError:
        pass
