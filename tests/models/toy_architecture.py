"""Toy: the Llama checkpoint layout under a model type of its own ("toy").

The worked example of docs/models.md, "Adding an architecture": in the library this
file would be `ttcustom/models/toy.py`, registered by one line in `models/registry.py`.
"""

from __future__ import annotations

from typing import Any

from ttcustom.models.architecture import Architecture
from ttcustom.models.causal_lm import CausalLM
from ttcustom.models.llama import LLAMA, LLAMA_WEIGHTS, llama_family_from_hf, llama_family_to_hf


class ToyForCausalLM(CausalLM):
    """A Llama-layout causal LM for config.json files with `"model_type": "toy"`."""

    weight_table = LLAMA_WEIGHTS  # our parameter names <-> the checkpoint's


def _toy_from_hf(hf: dict[str, Any], source: str) -> dict[str, Any]:
    # transformers' default for a key a toy config.json may leave out
    return llama_family_from_hf(hf, source, max_position_embeddings=4096)


TOY = Architecture(
    model_type="toy", hf_class="ToyForCausalLM", model_class=ToyForCausalLM,
    family=LLAMA.family,  # RMSNorm, SwiGLU MLP, rotary positions
    config_from_hf=_toy_from_hf, config_to_hf=llama_family_to_hf,
    lora_targets=("q_proj", "k_proj", "v_proj", "o_proj"),
)
