"""`Architecture`: everything one `model_type` fixes, declared once, in its model file.

`models/llama.py`, `qwen.py` and `gpt2.py` each fill in an `Architecture` per model
type they serve; `models/registry.py` registers them, one line each. The config
(validation, config.json mapping), the model class, LoRA's default targets, the
initialisation and the run-config schema all read the registered specs, so adding an
architecture is one new file plus one registry line (docs/models.md shows one).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ttcustom.models.causal_lm import CausalLM
    from ttcustom.models.config import ModelConfig


@dataclass(frozen=True)
class Family:
    """The shape of a decoder block: norm, MLP, positions, projections."""

    norm: str  # "rms" or "layer"
    mlp: str  # "gated" (SwiGLU) or "gelu"
    positions: str  # "rotary" or "learned"
    fused_qkv: bool = False  # one q/k/v projection (GPT-2 c_attn)
    qkv_bias: bool = False  # q/k/v always have a bias (Qwen2)
    all_bias: bool = False  # every linear and norm has a bias (GPT-2)
    qk_norm: bool = False  # RMSNorm of q and k per head (Qwen3)


@dataclass(frozen=True)
class Architecture:
    """One model type: its transformers class, block shape, config.json mapping,
    checkpoint layout (the model class's `weight_table`), LoRA defaults and init rules.

    `config_from_hf(hf, source)` turns a config.json dict into `ModelConfig` fields
    (raising `ConfigError` naming `source`); `config_to_hf(config)` maps each field to the
    config.json keys that express it. The keys every architecture shares (vocab_size,
    token ids, tie_word_embeddings, initializer_range, dtype) are handled by `ModelConfig`.
    """

    model_type: str
    hf_class: str
    model_class: type[CausalLM]
    family: Family
    config_from_hf: Callable[[dict[str, Any], str], dict[str, Any]]
    config_to_hf: Callable[[ModelConfig], dict[str, dict[str, Any]]]
    lora_targets: tuple[str, ...] = ("q_proj", "v_proj")  # PEFT's default for Llama-style
    # leaf names of residual-branch output projections that transformers initialises
    # with initializer_range / sqrt(2 * layers) (GPT-2)
    residual_projections: tuple[str, ...] = ()


_REGISTRY: dict[str, Architecture] = {}


def register_architecture(arch: Architecture) -> Architecture:
    """Make `arch.model_type` loadable, buildable and exportable; returns `arch`."""
    known = _REGISTRY.get(arch.model_type)
    if known is not None and known != arch:
        raise ValueError(f"register_architecture: model_type {arch.model_type!r} is already "
                         f"registered (as {known.hf_class}); choose another model_type")
    _REGISTRY[arch.model_type] = arch
    return arch


def registered() -> Mapping[str, Architecture]:
    """model_type -> `Architecture`, in registration order (a read-only view)."""
    return MappingProxyType(_REGISTRY)


__all__ = ["Architecture", "Family", "register_architecture", "registered"]
