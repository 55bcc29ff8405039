"""`to_hf`: write a model as a transformers checkpoint directory (also vLLM's format).

config.json, generation_config.json, model.safetensors (sharded with an index above
`max_shard_size`) and the tokenizer files of the source checkpoint. Tensors are
converted and written one at a time (host memory: one tensor beyond the model), LoRA
layers are exported merged, and the directory appears atomically.
"""

from __future__ import annotations

import functools
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import torch

from ttcustom.autograd.function import no_grad
from ttcustom.autograd.tensor import Tensor
from ttcustom.io import atomic_directory, write_json, write_sharded
from ttcustom.lora import LoRALinear, lora_layers
from ttcustom.models.causal_lm import CausalLM
from ttcustom.models.weights import relayout

TOKENIZER_FILES = (
    "tokenizer.json", "tokenizer_config.json", "tokenizer.model", "special_tokens_map.json",
    "vocab.json", "merges.txt", "added_tokens.json", "chat_template.jinja", "chat_template.json",
)


def _export_dtype(model: CausalLM, dtype: torch.dtype | str | None) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        return dtype
    name = dtype or model.config.dtype
    if name is None:
        return model.embed_tokens.weight.dtype
    resolved = getattr(torch, str(name).removeprefix("torch."), None)
    if not isinstance(resolved, torch.dtype):
        raise ValueError(f"to_hf: unknown dtype {name!r}")
    return resolved


def hf_tensors(model: CausalLM, dtype: torch.dtype
               ) -> dict[str, tuple[tuple[int, ...], Callable[[], torch.Tensor]]]:
    """HF name -> (HF shape, function producing the host tensor) for every weight to save.

    LoRA layers contribute their merged weight; a tied LM head is left out (transformers
    re-ties it from config.json's tie_word_embeddings).
    """
    table = model.weight_table
    lora = {f"{n}.weight": m for n, m in lora_layers(model).items()}
    lora_params = {f"{n}.{p}" for n in (k.removesuffix(".weight") for k in lora)
                   for p in ("lora_A", "lora_B")}
    out = {}
    for name, tensor in model.state_dict(keep_vars=True).items():
        if name in lora_params or (model.config.tie_word_embeddings and name == "lm_head.weight"):
            continue
        hf_name, transposed = table.lookup(name)
        shape = tensor.shape[::-1] if transposed else tensor.shape

        produce = functools.partial(_host_tensor, tensor, lora.get(name), transposed, dtype)
        out[hf_name] = (tuple(shape), produce)
    return out


def _host_tensor(tensor: Tensor, layer: LoRALinear | None, transposed: bool,
                 dtype: torch.dtype) -> torch.Tensor:
    """One weight on the host in checkpoint layout and dtype (LoRA merged in fp32)."""
    host = tensor.to_torch()
    if layer is not None:
        with no_grad():
            host = host.float() + layer.delta_weight().to_torch().float()
    return relayout(host.to(dtype), transposed)


def generation_config(model: CausalLM) -> dict:
    """The source checkpoint's generation_config.json, else one from the token ids."""
    if model.config.generation_config:
        return dict(model.config.generation_config)
    c = model.config
    ids = {"bos_token_id": c.bos_token_id, "eos_token_id": c.eos_token_id,
           "pad_token_id": c.pad_token_id}
    return {k: v for k, v in ids.items() if v is not None}


def copy_tokenizer(source: str | os.PathLike, out_dir: Path, required: bool) -> list[str]:
    source = Path(source)
    copied = [name for name in TOKENIZER_FILES if (source / name).is_file()]
    if required and not copied:
        raise FileNotFoundError(f"to_hf: tokenizer_dir {source} holds none of {TOKENIZER_FILES}")
    for name in copied:
        shutil.copy2(source / name, out_dir / name)
    return copied


def to_hf(model: CausalLM, out_dir: str | os.PathLike, tokenizer_dir: str | os.PathLike | None = None,
          max_shard_size: int | str = "5GB", dtype: torch.dtype | str | None = None) -> Path:
    """Write `model` to `out_dir` for `transformers.AutoModelForCausalLM.from_pretrained`
    and vLLM. `dtype` defaults to the source checkpoint's dtype (else the model's);
    `tokenizer_dir` defaults to the directory the model was loaded from, if any."""
    dtype = _export_dtype(model, dtype)
    tensors = hf_tensors(model, dtype)
    config = model.config.replace(dtype=str(dtype).removeprefix("torch."))
    tokenizer_source = tokenizer_dir or config.name_or_path
    with atomic_directory(out_dir) as tmp:
        write_json(tmp / "config.json", config.to_hf_dict())
        write_json(tmp / "generation_config.json", generation_config(model))
        specs = [(name, dtype, shape) for name, (shape, _) in tensors.items()]
        write_sharded(tmp, "model", specs, lambda name: tensors[name][1](), max_shard_size)
        if tokenizer_source is not None and Path(tokenizer_source).is_dir():
            copy_tokenizer(tokenizer_source, tmp, required=tokenizer_dir is not None)
    return Path(out_dir)


__all__ = ["generation_config", "hf_tensors", "to_hf"]
