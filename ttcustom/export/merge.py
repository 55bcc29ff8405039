"""`merge_lora`: fold LoRA updates into the base weights, leaving plain Linear layers."""

from __future__ import annotations

from ttcustom.models.causal_lm import CausalLM
from ttcustom.nn.lora import LoRALinear


def merge_lora(model: CausalLM) -> CausalLM:
    """Replace every `LoRALinear` by a Linear with W + B A * alpha/r, in place, on the
    device; returns `model`. Parameters keep their requires_grad (the base stays frozen)."""
    for name, module in list(model.named_modules()):
        if isinstance(module, LoRALinear):
            parent_name, _, child = name.rpartition(".")
            parent = dict(model.named_modules())[parent_name] if parent_name else model
            parent.add_module(child, module.merged())
    return model


__all__ = ["merge_lora"]
