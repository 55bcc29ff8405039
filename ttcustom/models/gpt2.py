"""GPT-2: learned positions, LayerNorm, GELU MLP, tied embeddings, fused q/k/v.

transformers stores GPT-2's linear layers as `Conv1D` with weights [in, out]; the table
marks those rows transposed. Hub checkpoints of GPT-2 often omit the `transformer.`
prefix and carry causal-mask buffers (`attn.bias`, `attn.masked_bias`), which are ignored.
"""

from __future__ import annotations

from ttcustom.models.causal_lm import CausalLM
from ttcustom.models.weights import W, WeightTable

GPT2_WEIGHTS = WeightTable(
    rows=(
        W("embed_tokens.weight", "transformer.wte.weight"),
        W("embed_positions.weight", "transformer.wpe.weight"),
        W("layers.{i}.attn_norm.weight", "transformer.h.{i}.ln_1.weight"),
        W("layers.{i}.attn_norm.bias", "transformer.h.{i}.ln_1.bias"),
        W("layers.{i}.attn.qkv_proj.weight", "transformer.h.{i}.attn.c_attn.weight", True),
        W("layers.{i}.attn.qkv_proj.bias", "transformer.h.{i}.attn.c_attn.bias"),
        W("layers.{i}.attn.o_proj.weight", "transformer.h.{i}.attn.c_proj.weight", True),
        W("layers.{i}.attn.o_proj.bias", "transformer.h.{i}.attn.c_proj.bias"),
        W("layers.{i}.mlp_norm.weight", "transformer.h.{i}.ln_2.weight"),
        W("layers.{i}.mlp_norm.bias", "transformer.h.{i}.ln_2.bias"),
        W("layers.{i}.mlp.fc_in.weight", "transformer.h.{i}.mlp.c_fc.weight", True),
        W("layers.{i}.mlp.fc_in.bias", "transformer.h.{i}.mlp.c_fc.bias"),
        W("layers.{i}.mlp.fc_out.weight", "transformer.h.{i}.mlp.c_proj.weight", True),
        W("layers.{i}.mlp.fc_out.bias", "transformer.h.{i}.mlp.c_proj.bias"),
        W("norm.weight", "transformer.ln_f.weight"),
        W("norm.bias", "transformer.ln_f.bias"),
        W("lm_head.weight", "lm_head.weight"),
    ),
    ignored=(r"(transformer\.)?h\.\d+\.attn\.(bias|masked_bias)",),
    optional_prefix="transformer.",
)


class GPT2LMHeadModel(CausalLM):
    model_types = ("gpt2",)
    weight_table = GPT2_WEIGHTS


__all__ = ["GPT2_WEIGHTS", "GPT2LMHeadModel"]
