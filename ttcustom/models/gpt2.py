"""GPT-2: learned positions, LayerNorm, GELU MLP, tied embeddings, fused q/k/v.

The whole spec of the `gpt2` model type: checkpoint layout, config.json keys (`n_embd`,
`n_layer`, ...), LoRA's default target (`c_attn`) and transformers' scaled init of the
residual projections.

transformers stores GPT-2's linear layers as `Conv1D` with weights [in, out]; the table
marks those rows transposed. Hub checkpoints of GPT-2 often omit the `transformer.`
prefix and carry causal-mask buffers (`attn.bias`, `attn.masked_bias`), which are ignored.
"""

from __future__ import annotations

from typing import Any

from ttcustom.models.architecture import Architecture, Family
from ttcustom.models.causal_lm import CausalLM
from ttcustom.models.config import ConfigError, ModelConfig, required_key
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
    weight_table = GPT2_WEIGHTS


# ---------------------------------------------------------------------- config.json
def _gpt2_from_hf(hf: dict[str, Any], source: str) -> dict[str, Any]:
    unsupported = {"scale_attn_weights": True, "scale_attn_by_inverse_layer_idx": False,
                   "add_cross_attention": False}
    for key, expected in unsupported.items():
        if hf.get(key, expected) != expected:
            raise ConfigError(f"{source}: {key}={hf[key]} is not supported (expected {expected})")
    return dict(
        hidden_size=required_key(hf, "n_embd", source),
        intermediate_size=hf.get("n_inner"),
        num_hidden_layers=required_key(hf, "n_layer", source),
        num_attention_heads=required_key(hf, "n_head", source),
        max_position_embeddings=hf.get("n_positions", 1024),
        hidden_act=hf.get("activation_function", "gelu_new"),
        norm_eps=hf.get("layer_norm_epsilon", 1e-5),
        tie_word_embeddings=bool(hf.get("tie_word_embeddings", True)),
        hidden_dropout=float(hf.get("resid_pdrop", 0.1)),
        embedding_dropout=float(hf.get("embd_pdrop", 0.1)),
        attention_dropout=float(hf.get("attn_pdrop", 0.1)),
        bos_token_id=hf.get("bos_token_id", 50256),
        eos_token_id=hf.get("eos_token_id", 50256),
    )


def _gpt2_to_hf(c: ModelConfig) -> dict[str, dict[str, Any]]:
    return {
        "hidden_size": {"n_embd": c.hidden_size},
        "intermediate_size": {"n_inner": c.intermediate_size},
        "num_hidden_layers": {"n_layer": c.num_hidden_layers},
        "num_attention_heads": {"n_head": c.num_attention_heads},
        "max_position_embeddings": {"n_positions": c.max_position_embeddings},
        "hidden_act": {"activation_function": c.hidden_act},
        "norm_eps": {"layer_norm_epsilon": c.norm_eps},
        "hidden_dropout": {"resid_pdrop": c.hidden_dropout},
        "embedding_dropout": {"embd_pdrop": c.embedding_dropout},
        "attention_dropout": {"attn_pdrop": c.attention_dropout},
    }


# ---------------------------------------------------------------------- the spec
GPT2 = Architecture(
    model_type="gpt2", hf_class="GPT2LMHeadModel", model_class=GPT2LMHeadModel,
    family=Family(norm="layer", mlp="gelu", positions="learned", fused_qkv=True,
                  all_bias=True),
    config_from_hf=_gpt2_from_hf, config_to_hf=_gpt2_to_hf,
    lora_targets=("c_attn",),
    residual_projections=("o_proj", "fc_out"),
)


__all__ = ["GPT2", "GPT2_WEIGHTS", "GPT2LMHeadModel"]
