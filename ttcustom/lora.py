"""`apply_lora`: put LoRA adapters on a model's linear layers and freeze everything else.

Target names are the layer names users know from PEFT and transformers ("q_proj",
"v_proj", GPT-2's "c_attn"); ttcustom's own names ("qkv_proj") work too, and
"all-linear" selects every linear layer but the LM head.
"""

from __future__ import annotations

from collections.abc import Sequence

from ttcustom.models.causal_lm import CausalLM
from ttcustom.nn.layers import Linear
from ttcustom.nn.lora import LoRALinear
from ttcustom.nn.module import Module

DEFAULT_TARGETS = {"gpt2": ("c_attn",)}
FALLBACK_TARGETS = ("q_proj", "v_proj")  # PEFT's default for Llama-style models


def hf_module_name(model: CausalLM, name: str) -> str:
    """The transformers name of one of our linear layers ("layers.0.attn.q_proj" ->
    "model.layers.0.self_attn.q_proj"), from the model's weight table."""
    return model.weight_table.lookup(f"{name}.weight")[0].removesuffix(".weight")


def _leaf(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def _targets(model: CausalLM, target_modules: Sequence[str] | str | None) -> list[tuple[str, Linear]]:
    linears = [(n, m) for n, m in model.named_modules() if isinstance(m, Linear)]
    if target_modules == "all-linear":
        return [(n, m) for n, m in linears if n != "lm_head"]
    if isinstance(target_modules, str):
        target_modules = [target_modules]
    wanted = set(target_modules or DEFAULT_TARGETS.get(model.config.model_type, FALLBACK_TARGETS))
    chosen = [(n, m) for n, m in linears
              if _leaf(n) in wanted or _leaf(hf_module_name(model, n)) in wanted]
    matched = {_leaf(n) for n, _ in chosen} | {_leaf(hf_module_name(model, n)) for n, _ in chosen}
    unknown = sorted(wanted - matched)
    if unknown:
        available = sorted({_leaf(hf_module_name(model, n)) for n, _ in linears})
        raise ValueError(f"apply_lora: target_modules {unknown} match no linear layer of this "
                         f"{model.config.architecture}; available: {available} or 'all-linear'")
    return chosen


def apply_lora(model: CausalLM, r: int = 8, alpha: float = 16, dropout: float = 0.0,
               target_modules: Sequence[str] | str | None = None) -> CausalLM:
    """Wrap the targeted linear layers in `LoRALinear` (in place) and freeze all other
    parameters; returns `model`. Default targets: q_proj and v_proj (c_attn for GPT-2)."""
    if any(isinstance(m, LoRALinear) for m in model.modules()):
        raise ValueError("apply_lora: the model already has LoRA layers; merge_lora() first")
    chosen = _targets(model, target_modules)
    model.requires_grad_(False)
    for name, linear in chosen:
        _replace(model, name, LoRALinear(linear, r, alpha, dropout))
    return model


def _replace(model: Module, name: str, new: Module) -> None:
    parent_name, _, child = name.rpartition(".")
    parent = dict(model.named_modules())[parent_name]
    parent.add_module(child, new)  # keeps the child's position in the parent


__all__ = ["apply_lora", "hf_module_name"]
