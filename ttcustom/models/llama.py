"""Llama family: TinyLlama, Llama 2 / 3.x (rope scaling), SmolLM, Mistral (no sliding window).

Checkpoint layout of transformers' `LlamaForCausalLM` / `MistralForCausalLM`.
"""

from __future__ import annotations

from ttcustom.models.causal_lm import CausalLM
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

    model_types = ("llama", "mistral")
    weight_table = LLAMA_WEIGHTS


__all__ = ["LLAMA_WEIGHTS", "LlamaForCausalLM"]
