"""Qwen2 / Qwen2.5 (q/k/v biases) and Qwen3 (RMSNorm of q and k per head).

Both use the Llama checkpoint layout and config.json keys; Qwen3 adds the two norms.
Sliding-window attention (`use_sliding_window: true`) is refused.
"""

from __future__ import annotations

from typing import Any

from ttcustom.models.architecture import Architecture, Family
from ttcustom.models.causal_lm import CausalLM
from ttcustom.models.config import ConfigError, ModelConfig
from ttcustom.models.llama import LLAMA_WEIGHTS, llama_family_from_hf, llama_family_to_hf
from ttcustom.models.weights import W, WeightTable

QWEN2_WEIGHTS = LLAMA_WEIGHTS

QWEN3_WEIGHTS = WeightTable(
    rows=LLAMA_WEIGHTS.rows + (
        W("layers.{i}.attn.q_norm.weight", "model.layers.{i}.self_attn.q_norm.weight"),
        W("layers.{i}.attn.k_norm.weight", "model.layers.{i}.self_attn.k_norm.weight"),
    ),
    ignored=LLAMA_WEIGHTS.ignored,
)


class Qwen2ForCausalLM(CausalLM):
    weight_table = QWEN2_WEIGHTS


class Qwen3ForCausalLM(CausalLM):
    weight_table = QWEN3_WEIGHTS


# ---------------------------------------------------------------------- config.json
_NO_SLIDING_WINDOW = {"sliding_window": {"use_sliding_window": False, "sliding_window": None}}


def _qwen_from_hf(hf: dict[str, Any], source: str, **defaults: Any) -> dict[str, Any]:
    if hf.get("use_sliding_window"):
        raise ConfigError(f"{source}: use_sliding_window=true is not supported; set it to false")
    return llama_family_from_hf(hf, source, max_position_embeddings=32768, **defaults)


def _qwen2_from_hf(hf: dict[str, Any], source: str) -> dict[str, Any]:
    return _qwen_from_hf(hf, source)


def _qwen2_to_hf(c: ModelConfig) -> dict[str, dict[str, Any]]:
    return llama_family_to_hf(c) | _NO_SLIDING_WINDOW


def _qwen3_from_hf(hf: dict[str, Any], source: str) -> dict[str, Any]:
    return _qwen_from_hf(hf, source, head_dim=128)


def _qwen3_to_hf(c: ModelConfig) -> dict[str, dict[str, Any]]:
    return (llama_family_to_hf(c) | {"attention_bias": {"attention_bias": c.attention_bias}}
            | _NO_SLIDING_WINDOW)


# ---------------------------------------------------------------------- the specs
QWEN2 = Architecture(
    model_type="qwen2", hf_class="Qwen2ForCausalLM", model_class=Qwen2ForCausalLM,
    family=Family(norm="rms", mlp="gated", positions="rotary", qkv_bias=True),
    config_from_hf=_qwen2_from_hf, config_to_hf=_qwen2_to_hf,
)
QWEN3 = Architecture(
    model_type="qwen3", hf_class="Qwen3ForCausalLM", model_class=Qwen3ForCausalLM,
    family=Family(norm="rms", mlp="gated", positions="rotary", qk_norm=True),
    config_from_hf=_qwen3_from_hf, config_to_hf=_qwen3_to_hf,
)


__all__ = ["QWEN2", "QWEN2_WEIGHTS", "QWEN3", "QWEN3_WEIGHTS", "Qwen2ForCausalLM",
           "Qwen3ForCausalLM"]
