"""`from_gguf`: a llama.cpp GGUF file (Llama family) -> a ttcustom model.

The metadata becomes a transformers-style config (so export writes a normal config.json),
every tensor is dequantized to float32 with the `gguf` package (F32, F16, BF16, Q8_0,
Q4_0, Q4_1, Q4_K, Q6_K and the other types gguf-py reads) and renamed to transformers'
names; q/k projections are un-permuted (llama.cpp stores them rotated by halves). The
tokenizer and its chat template load with `load_gguf_tokenizer` (transformers' converter).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ttcustom.io import CheckpointError
from ttcustom.models.config import ConfigError, ModelConfig

# GGUF tensor name (after "blk.N.") -> transformers name (after "model.layers.N.")
LAYER_NAMES = {
    "attn_norm": "input_layernorm", "ffn_norm": "post_attention_layernorm",
    "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj", "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj",
    "ffn_down": "mlp.down_proj",
}
TOP_NAMES = {"token_embd": "model.embed_tokens", "output_norm": "model.norm",
             "output": "lm_head"}
ARCHITECTURES = ("llama",)


def is_gguf(path: str | os.PathLike) -> bool:
    return str(path).lower().endswith(".gguf") and Path(path).is_file()


def _reader(path: str | os.PathLike) -> Any:
    try:
        import gguf
    except ImportError:
        raise ImportError(f"{path}: reading GGUF files needs the `gguf` package: "
                          "pip install 'ttcustom[gguf]'") from None
    try:
        return gguf.GGUFReader(str(path))
    except Exception as err:
        raise CheckpointError(f"{path}: not a readable GGUF file ({err})") from None


def _field(reader: Any, key: str, default: Any = None) -> Any:
    field = reader.fields.get(key)
    return default if field is None else field.contents()


def hf_name(gguf_name: str) -> str | None:
    """The transformers name of a GGUF tensor name, None for tensors with no counterpart."""
    match = re.fullmatch(r"blk\.(\d+)\.(\w+)\.(weight|bias)", gguf_name)
    if match:
        layer, part, kind = match.groups()
        return (f"model.layers.{layer}.{LAYER_NAMES[part]}.{kind}"
                if part in LAYER_NAMES else None)
    stem, _, kind = gguf_name.rpartition(".")
    return f"{TOP_NAMES[stem]}.{kind}" if stem in TOP_NAMES else None


def gguf_hf_config(reader: Any, source: str) -> dict[str, Any]:
    """A transformers LlamaConfig dict from GGUF metadata."""
    arch = _field(reader, "general.architecture")
    if arch not in ARCHITECTURES:
        raise ConfigError(f"{source}: GGUF architecture {arch!r} is not supported; "
                          f"supported: {ARCHITECTURES}")
    if any(t.name == "rope_freqs.weight" for t in reader.tensors):
        raise ConfigError(f"{source}: llama3-style rope (a rope_freqs tensor) is not supported "
                          "from GGUF; load the transformers checkpoint instead")

    def key(name: str, default: Any = None) -> Any:
        value = _field(reader, f"{arch}.{name}", default)
        if value is None:
            raise ConfigError(f"{source}: GGUF metadata {arch}.{name} is missing")
        return value

    heads = key("attention.head_count")
    hidden = key("embedding_length")
    tokens = _field(reader, "tokenizer.ggml.tokens")
    names = {t.name for t in reader.tensors}
    hf: dict[str, Any] = {
        "model_type": "llama", "architectures": ["LlamaForCausalLM"],
        "vocab_size": _field(reader, f"{arch}.vocab_size") or (len(tokens) if tokens else None),
        "hidden_size": hidden, "intermediate_size": key("feed_forward_length"),
        "num_hidden_layers": key("block_count"), "num_attention_heads": heads,
        "num_key_value_heads": key("attention.head_count_kv", heads),
        "head_dim": key("attention.key_length", hidden // heads),
        "max_position_embeddings": key("context_length"), "hidden_act": "silu",
        "rms_norm_eps": key("attention.layer_norm_rms_epsilon"),
        "rope_theta": float(key("rope.freq_base", 10000.0)), "rope_scaling": None,
        "tie_word_embeddings": "output.weight" not in names,
        "bos_token_id": _field(reader, "tokenizer.ggml.bos_token_id"),
        "eos_token_id": _field(reader, "tokenizer.ggml.eos_token_id"),
        "pad_token_id": _field(reader, "tokenizer.ggml.padding_token_id"),
        "torch_dtype": "float32",
    }
    scaling = _field(reader, f"{arch}.rope.scaling.type", "none")
    if scaling == "linear":
        hf["rope_scaling"] = {"rope_type": "linear",
                              "factor": float(key("rope.scaling.factor"))}
    elif scaling != "none":
        raise ConfigError(f"{source}: GGUF rope scaling {scaling!r} is not supported "
                          "(supported: none, linear)")
    return hf


def unpermute(weight: np.ndarray, heads: int) -> np.ndarray:
    """Undo llama.cpp's q/k row permutation (rotary halves interleaved per head)."""
    rows = weight.shape[0]
    return (weight.reshape(heads, rows // heads // 2, 2, *weight.shape[1:])
            .swapaxes(1, 2).reshape(weight.shape))


def gguf_weights(path: str | os.PathLike) -> tuple[ModelConfig, Any]:
    """(config, WeightSource) of a GGUF file for `ttcustom.models.loading.load_weights`."""
    import gguf

    from ttcustom.models.loading import Entry, WeightSource

    source = str(path)
    reader = _reader(path)
    hf = gguf_hf_config(reader, source)
    config = ModelConfig.from_hf_dict(hf, source=source)
    config.name_or_path = source
    heads = {"self_attn.q_proj": hf["num_attention_heads"],
             "self_attn.k_proj": hf["num_key_value_heads"]}
    by_name, entries, unknown = {}, {}, []
    for tensor in reader.tensors:
        name = hf_name(tensor.name)
        if name is None:
            unknown.append(tensor.name)
            continue
        by_name[name] = tensor
        entries[name] = Entry(tuple(int(d) for d in reversed(tensor.shape)), torch.float32,
                              f"{source} ({tensor.name}, {tensor.tensor_type.name})")
    if unknown:
        raise CheckpointError(f"{source}: GGUF tensors with no Llama counterpart: "
                              f"{unknown[:8]}")

    def read(_: Any, names: list[str]):
        for name in names:
            tensor = by_name[name]
            values = gguf.quants.dequantize(tensor.data, tensor.tensor_type)
            values = values.reshape(entries[name].shape).astype(np.float32)
            module = name.rsplit(".", 1)[0].split(".", 3)[-1]
            if module in heads and name.endswith(".weight"):
                values = unpermute(values, heads[module])
            yield name, torch.from_numpy(np.ascontiguousarray(values))

    return config, WeightSource(source, entries, [(None, list(entries))], read)


def load_gguf_tokenizer(path: str | os.PathLike) -> Any:
    """The GGUF file's tokenizer (and chat template) as a transformers fast tokenizer."""
    from transformers import AutoTokenizer

    path = Path(path)
    return AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)


__all__ = ["gguf_weights", "gguf_hf_config", "hf_name", "is_gguf", "load_gguf_tokenizer",
           "unpermute"]
