"""Causal language models (Llama family, Qwen2/3, GPT-2) and transformers checkpoint loading."""

from __future__ import annotations

import torch

from ttcustom.backends import Backend
from ttcustom.io import CheckpointError
from ttcustom.models.architecture import Architecture, Family
from ttcustom.models.causal_lm import CausalLM, CausalLMOutput
from ttcustom.models.config import ConfigError, ModelConfig
from ttcustom.models.gpt2 import GPT2LMHeadModel
from ttcustom.models.llama import LlamaForCausalLM
from ttcustom.models.loading import from_gguf, from_hf, read_config
from ttcustom.models.qwen import Qwen2ForCausalLM, Qwen3ForCausalLM
from ttcustom.models.registry import model_class, model_types, register_architecture
from ttcustom.models.sizecheck import check_model_fits
from ttcustom.nn import init


def build_model(config: ModelConfig, dtype: torch.dtype | None = None,
                backend: str | Backend | None = None) -> CausalLM:
    """A freshly initialised model (transformers' initialisation) for from-scratch training."""
    check_model_fits(config, dtype)
    with init.skip_init():
        model = model_class(config.model_type)(config, dtype=dtype, backend=backend)
    return model.init_weights()


__all__ = [
    "Architecture",
    "CausalLM",
    "CausalLMOutput",
    "CheckpointError",
    "ConfigError",
    "Family",
    "GPT2LMHeadModel",
    "LlamaForCausalLM",
    "ModelConfig",
    "Qwen2ForCausalLM",
    "Qwen3ForCausalLM",
    "build_model",
    "from_gguf",
    "from_hf",
    "model_class",
    "model_types",
    "read_config",
    "register_architecture",
]
