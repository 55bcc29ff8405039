"""Llama family: TinyLlama, Llama 2 / 3.x (rope scaling), SmolLM, Mistral (no sliding window).

The whole spec of the `llama` and `mistral` model types: checkpoint layout of
transformers' `LlamaForCausalLM` / `MistralForCausalLM`, and the config.json mapping the
whole Llama family shares (`llama_family_from_hf` / `llama_family_to_hf`, also used by
Qwen2/3).
"""

from __future__ import annotations

from typing import Any

from ttcustom.models.architecture import Architecture, Family
from ttcustom.models.causal_lm import CausalLM
from ttcustom.models.config import ConfigError, ModelConfig, required_key
from ttcustom.models.weights import W, WeightTable

LLAMA_WEIGHTS = WeightTable(
    rows=(
        W("embed_tokens.weight", "model.embed_tokens.weight"),
        W("layers.{i}.attn_norm.weight", "model.layers.{i}.input_layernorm.weight"),
        W("layers.{i}.attn.q_proj.weight", "model.layers.{i}.self_attn.q_proj.weight"),
        W("layers.{i}.attn.q_proj.bias", "model.layers.{i}.self_attn.q_proj.bias"),
        W("layers.{i}.attn.k_proj.weight", "model.layers.{i}.self_attn.k_proj.weight"),
        W("layers.{i}.attn.k_proj.bias", "model.layers.{i}.self_attn.k_proj.bias"),
        W("layers.{i}.attn.v_proj.weight", "model.layers.{i}.self_attn.v_proj.weight"),
        W("layers.{i}.attn.v_proj.bias", "model.layers.{i}.self_attn.v_proj.bias"),
        W("layers.{i}.attn.o_proj.weight", "model.layers.{i}.self_attn.o_proj.weight"),
        W("layers.{i}.attn.o_proj.bias", "model.layers.{i}.self_attn.o_proj.bias"),
        W("layers.{i}.mlp_norm.weight", "model.layers.{i}.post_attention_layernorm.weight"),
        W("layers.{i}.mlp.gate_proj.weight", "model.layers.{i}.mlp.gate_proj.weight"),
        W("layers.{i}.mlp.gate_proj.bias", "model.layers.{i}.mlp.gate_proj.bias"),
        W("layers.{i}.mlp.up_proj.weight", "model.layers.{i}.mlp.up_proj.weight"),
        W("layers.{i}.mlp.up_proj.bias", "model.layers.{i}.mlp.up_proj.bias"),
        W("layers.{i}.mlp.down_proj.weight", "model.layers.{i}.mlp.down_proj.weight"),
        W("layers.{i}.mlp.down_proj.bias", "model.layers.{i}.mlp.down_proj.bias"),
        W("norm.weight", "model.norm.weight"),
        W("lm_head.weight", "lm_head.weight"),
    ),
    # checkpoints written by transformers < 4.31 carry the rotary buffer
    ignored=(r"model\.layers\.\d+\.self_attn\.rotary_emb\.inv_freq",),
)


class LlamaForCausalLM(CausalLM):
    """Llama-architecture causal LM (also Mistral checkpoints, whose layout is the same)."""

    weight_table = LLAMA_WEIGHTS


# ---------------------------------------------------------------------- config.json
def llama_family_from_hf(hf: dict[str, Any], source: str, **defaults: Any) -> dict[str, Any]:
    """`ModelConfig` fields from a Llama-family config.json (no sliding window);
    `defaults` are transformers' values for keys the file may leave out
    (`max_position_embeddings`, `bos_token_id`, `eos_token_id`, `head_dim`)."""
    theta, scaling = _rope_from_hf(hf)
    values = dict(
        hidden_size=required_key(hf, "hidden_size", source),
        intermediate_size=required_key(hf, "intermediate_size", source),
        num_hidden_layers=required_key(hf, "num_hidden_layers", source),
        num_attention_heads=required_key(hf, "num_attention_heads", source),
        num_key_value_heads=hf.get("num_key_value_heads"),
        head_dim=hf.get("head_dim") or defaults.get("head_dim"),
        max_position_embeddings=hf.get("max_position_embeddings",
                                       defaults["max_position_embeddings"]),
        hidden_act=hf.get("hidden_act", "silu"),
        norm_eps=hf.get("rms_norm_eps", 1e-6),
        rope_theta=theta,
        rope_scaling=scaling,
        attention_bias=bool(hf.get("attention_bias", False)),
        mlp_bias=bool(hf.get("mlp_bias", False)),
        tie_word_embeddings=bool(hf.get("tie_word_embeddings", False)),
        attention_dropout=float(hf.get("attention_dropout", 0.0)),
        bos_token_id=hf.get("bos_token_id", defaults.get("bos_token_id")),
        eos_token_id=hf.get("eos_token_id", defaults.get("eos_token_id")),
    )
    if hf.get("pretraining_tp", 1) not in (None, 1):
        raise ConfigError(f"{source}: pretraining_tp={hf['pretraining_tp']} is not supported")
    return values


def _rope_from_hf(hf: dict) -> tuple[float, dict | None]:
    """(rope_theta, rope_scaling) from either layout: transformers 5 `rope_parameters` or
    the older `rope_theta` + `rope_scaling` keys (the latter wins, as in transformers)."""
    raw = hf.get("rope_scaling") or hf.get("rope_parameters") or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"rope_scaling must be an object (or null), got {raw!r}")
    params = dict(raw)
    theta = params.pop("rope_theta", None)
    for fallback in (hf.get("rope_theta"), 10000.0):  # 0 is a value (refused later), not unset
        theta = fallback if theta is None else theta
    partial = hf.get("partial_rotary_factor")
    if partial not in (None, 1.0):
        params["partial_rotary_factor"] = partial
    number = isinstance(theta, (int, float)) and not isinstance(theta, bool)
    return (float(theta) if number else theta), (params or None)


def llama_family_to_hf(c: ModelConfig) -> dict[str, dict[str, Any]]:
    """For each field a Llama-family config.json expresses, its keys (and values)."""
    rope = _rope_to_hf(c)
    return {
        "hidden_size": {"hidden_size": c.hidden_size},
        "intermediate_size": {"intermediate_size": c.intermediate_size},
        "num_hidden_layers": {"num_hidden_layers": c.num_hidden_layers},
        "num_attention_heads": {"num_attention_heads": c.num_attention_heads},
        "num_key_value_heads": {"num_key_value_heads": c.num_key_value_heads},
        "head_dim": {"head_dim": c.head_dim},
        "max_position_embeddings": {"max_position_embeddings": c.max_position_embeddings},
        "hidden_act": {"hidden_act": c.hidden_act},
        "norm_eps": {"rms_norm_eps": c.norm_eps},
        "rope_theta": rope,
        "rope_scaling": rope,
        "attention_dropout": {"attention_dropout": c.attention_dropout},
    }


def _rope_to_hf(c: ModelConfig) -> dict[str, Any]:
    """Both layouts: `rope_theta` + `rope_scaling` (transformers 4.x, vLLM) and
    `rope_parameters` (transformers 5), which agree, so every reader gets the same rope."""
    scaling = dict(c.rope_scaling) if c.rope_scaling else None
    parameters = {"rope_theta": c.rope_theta, "rope_type": "default"} | (scaling or {})
    return {"rope_theta": c.rope_theta, "rope_scaling": scaling, "rope_parameters": parameters}


def _llama_from_hf(hf: dict[str, Any], source: str) -> dict[str, Any]:
    return llama_family_from_hf(hf, source, max_position_embeddings=2048, bos_token_id=1,
                                eos_token_id=2)


def _llama_to_hf(c: ModelConfig) -> dict[str, dict[str, Any]]:
    return llama_family_to_hf(c) | {"attention_bias": {"attention_bias": c.attention_bias},
                                    "mlp_bias": {"mlp_bias": c.mlp_bias}}


def _mistral_from_hf(hf: dict[str, Any], source: str) -> dict[str, Any]:
    values = llama_family_from_hf(hf, source, max_position_embeddings=131072, bos_token_id=1,
                                  eos_token_id=2)
    return values | {"sliding_window": hf.get("sliding_window", 4096)}


def _mistral_to_hf(c: ModelConfig) -> dict[str, dict[str, Any]]:
    return llama_family_to_hf(c) | {"sliding_window": {"sliding_window": c.sliding_window}}


# ---------------------------------------------------------------------- the specs
LLAMA = Architecture(
    model_type="llama", hf_class="LlamaForCausalLM", model_class=LlamaForCausalLM,
    family=Family(norm="rms", mlp="gated", positions="rotary"),
    config_from_hf=_llama_from_hf, config_to_hf=_llama_to_hf,
)
MISTRAL = Architecture(
    model_type="mistral", hf_class="MistralForCausalLM", model_class=LlamaForCausalLM,
    family=LLAMA.family, config_from_hf=_mistral_from_hf, config_to_hf=_mistral_to_hf,
)


__all__ = ["LLAMA", "LLAMA_WEIGHTS", "MISTRAL", "LlamaForCausalLM", "llama_family_from_hf",
           "llama_family_to_hf"]
