"""`to_peft`: write a model's LoRA layers as a PEFT adapter directory.

adapter_config.json + adapter_model.safetensors with PEFT's tensor names
("base_model.model.<transformers module>.lora_A.weight"), loadable by
`peft.PeftModel.from_pretrained` and vLLM's `--enable-lora`.
"""

from __future__ import annotations

import os
from pathlib import Path

from ttcustom.io import SAFETENSORS_METADATA, atomic_directory, write_file, write_json
from ttcustom.lora import hf_module_name
from ttcustom.models.causal_lm import CausalLM
from ttcustom.nn.lora import LoRALinear

PEFT_PREFIX = "base_model.model."


def adapter_config(model: CausalLM, layers: dict[str, LoRALinear],
                   base_model_name_or_path: str | None) -> dict:
    settings = {(m.r, m.alpha, m.dropout.p if m.dropout else 0.0) for m in layers.values()}
    if len(settings) > 1:
        raise ValueError(f"to_peft: LoRA layers differ in (r, alpha, dropout) {sorted(settings)}; "
                         "one adapter needs one setting")
    ((r, alpha, dropout),) = settings
    targets = sorted({name.rsplit(".", 1)[-1] for name in layers})
    return {
        "peft_type": "LORA",
        "task_type": "CAUSAL_LM",
        "base_model_name_or_path": base_model_name_or_path,
        "r": r,
        "lora_alpha": alpha,
        "lora_dropout": dropout,
        "target_modules": targets,
        "bias": "none",
        "fan_in_fan_out": model.config.model_type == "gpt2",  # Conv1D weights are [in, out]
        "inference_mode": True,
        "init_lora_weights": True,
        "modules_to_save": None,
        "layers_to_transform": None,
        "layers_pattern": None,
        "rank_pattern": {},
        "alpha_pattern": {},
        "use_rslora": False,
        "use_dora": False,
        "revision": None,
    }


def to_peft(model: CausalLM, out_dir: str | os.PathLike,
            base_model_name_or_path: str | None = None) -> Path:
    """Write the LoRA adapter of `model` to `out_dir`. `base_model_name_or_path`
    defaults to the checkpoint the model was loaded from."""
    layers = {hf_module_name(model, n): m for n, m in model.named_modules()
              if isinstance(m, LoRALinear)}
    if not layers:
        raise ValueError("to_peft: the model has no LoRA layers; call ttcustom.lora.apply_lora "
                         "first (or use ttcustom.export.to_hf for a full checkpoint)")
    tensors = {}
    for hf_name, layer in layers.items():
        tensors[f"{PEFT_PREFIX}{hf_name}.lora_A.weight"] = layer.lora_A
        tensors[f"{PEFT_PREFIX}{hf_name}.lora_B.weight"] = layer.lora_B
    base = base_model_name_or_path or model.config.name_or_path
    with atomic_directory(out_dir) as tmp:
        write_json(tmp / "adapter_config.json", adapter_config(model, layers, base))
        specs = [(name, t.dtype, t.shape) for name, t in tensors.items()]
        write_file(tmp / "adapter_model.safetensors", specs,
                   lambda name: tensors[name].to_torch(), SAFETENSORS_METADATA)
    return Path(out_dir)


__all__ = ["adapter_config", "to_peft"]
