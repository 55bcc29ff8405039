"""The supported architectures: one `register_architecture` line per model type.

Everything that lists or looks up model types (`ModelConfig`, `model_class`, the run
config's `model.architecture` choices, error messages) reads this registry.
"""

from __future__ import annotations

from ttcustom.models.architecture import register_architecture, registered
from ttcustom.models.causal_lm import CausalLM
from ttcustom.models.config import get_architecture
from ttcustom.models.gpt2 import GPT2
from ttcustom.models.llama import LLAMA, MISTRAL
from ttcustom.models.qwen import QWEN2, QWEN3

register_architecture(LLAMA)
register_architecture(MISTRAL)
register_architecture(QWEN2)
register_architecture(QWEN3)
register_architecture(GPT2)


def model_types() -> tuple[str, ...]:
    """The registered model types, in registration order."""
    return tuple(registered())


def model_class(model_type: str) -> type[CausalLM]:
    """The class that builds `model_type` ("llama", "mistral", "qwen2", "qwen3", "gpt2", ...)."""
    return get_architecture(model_type).model_class


__all__ = ["get_architecture", "model_class", "model_types", "register_architecture"]
