"""Qwen2 / Qwen2.5 (q/k/v biases) and Qwen3 (RMSNorm of q and k per head).

Both use the Llama checkpoint layout; Qwen3 adds the two norms.
"""

from __future__ import annotations

from ttcustom.models.causal_lm import CausalLM
from ttcustom.models.llama import LLAMA_WEIGHTS
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
    model_types = ("qwen2",)
    weight_table = QWEN2_WEIGHTS


class Qwen3ForCausalLM(CausalLM):
    model_types = ("qwen3",)
    weight_table = QWEN3_WEIGHTS


__all__ = ["QWEN2_WEIGHTS", "QWEN3_WEIGHTS", "Qwen2ForCausalLM", "Qwen3ForCausalLM"]
