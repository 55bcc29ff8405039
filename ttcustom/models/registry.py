"""model_type -> ttcustom model class."""

from __future__ import annotations

from ttcustom.models.causal_lm import CausalLM
from ttcustom.models.config import FAMILIES, ConfigError
from ttcustom.models.gpt2 import GPT2LMHeadModel
from ttcustom.models.llama import LlamaForCausalLM
from ttcustom.models.qwen import Qwen2ForCausalLM, Qwen3ForCausalLM

MODEL_CLASSES: tuple[type[CausalLM], ...] = (
    LlamaForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM, GPT2LMHeadModel,
)


def model_class(model_type: str) -> type[CausalLM]:
    """The class that builds `model_type` ("llama", "mistral", "qwen2", "qwen3", "gpt2")."""
    for cls in MODEL_CLASSES:
        if model_type in cls.model_types:
            return cls
    raise ConfigError(f"model_type {model_type!r} is not supported; supported: {sorted(FAMILIES)}")


__all__ = ["MODEL_CLASSES", "model_class"]
