"""`to_peft`: write a model's LoRA layers as a PEFT adapter directory.

adapter_config.json + adapter_model.safetensors in PEFT's format (`ttcustom.lora`'s
`adapter_config` and `adapter_tensors`), loadable by `peft.PeftModel.from_pretrained`
and vLLM's `--enable-lora`.
"""

from __future__ import annotations

import os
from pathlib import Path

from ttcustom.io import SAFETENSORS_METADATA, atomic_directory, write_file, write_json
from ttcustom.lora import adapter_config, adapter_tensors
from ttcustom.models.causal_lm import CausalLM


def to_peft(model: CausalLM, out_dir: str | os.PathLike,
            base_model_name_or_path: str | None = None) -> Path:
    """Write the LoRA adapter of `model` to `out_dir`. `base_model_name_or_path`
    defaults to the checkpoint the model was loaded from."""
    base = base_model_name_or_path or model.config.name_or_path
    config = adapter_config(model, base)
    tensors = adapter_tensors(model)
    with atomic_directory(out_dir) as tmp:
        write_json(tmp / "adapter_config.json", config)
        specs = [(name, t.dtype, t.shape) for name, t in tensors.items()]
        write_file(tmp / "adapter_model.safetensors", specs,
                   lambda name: tensors[name].to_torch(), SAFETENSORS_METADATA)
    return Path(out_dir)


__all__ = ["to_peft"]
