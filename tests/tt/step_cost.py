"""A training step's cost on the golden tt backend for the configs whose figures are pinned.

`layer_cost(name)` builds the model twice (1 and 2 layers), takes one AdamW step to
create the optimizer state and the constants, measures the second step, and returns
(one layer, per further layer): the first run, and the second minus the first. (The
first layer can be cheaper than the others: with a frozen embedding it computes no
input gradient.)
"""

from __future__ import annotations

import torch

import ttcustom as tc
from ttcustom.backends.tt import TTBackend
from ttcustom.backends.tt.cost import StepCost, measure
from ttcustom.lora import apply_lora
from ttcustom.models import ModelConfig, build_model
from ttcustom.optim import AdamW

#: config name -> (model config fields, LoRA targets or None (train everything), batch shape)
CONFIGS = {
    # examples/configs/trickster_tinyllama_n150.yaml on TinyLlama-1.1B's shape, bfloat16
    "tinyllama_lora": (dict(vocab_size=32000, hidden_size=2048, intermediate_size=5632,
                            num_attention_heads=32, num_key_value_heads=4, head_dim=64,
                            max_position_embeddings=2048),
                       ["q_proj", "k_proj", "v_proj", "o_proj"], (1, 64)),
    # examples/configs/nano_trickster.yaml (from scratch, tied embeddings)
    "nano_trickster": (dict(vocab_size=256, hidden_size=256, intermediate_size=768,
                            num_attention_heads=8, max_position_embeddings=512,
                            tie_word_embeddings=True),
                       None, (2, 64)),
}


def step_cost(name: str, layers: int) -> StepCost:
    """The second AdamW step of `CONFIGS[name]` with `layers` layers, measured."""
    from tests.tt.golden import GoldenTTNN

    fields, targets, (batch, seq) = CONFIGS[name]
    backend = TTBackend(ttnn=GoldenTTNN())
    try:
        tc.manual_seed(0)
        model = build_model(ModelConfig(model_type="llama", num_hidden_layers=layers, **fields),
                            dtype=torch.bfloat16, backend=backend)
        if targets:
            apply_lora(model, r=16, alpha=32, target_modules=targets)
        params = [p for p in model.parameters() if p.requires_grad]
        optimizer = AdamW(params, lr=1e-4, weight_decay=0.01)
        g = torch.Generator().manual_seed(0)
        ids = torch.randint(0, fields["vocab_size"], (batch, seq), generator=g)

        def step() -> None:
            model(ids, labels=ids).loss.backward()
            optimizer.step()
            optimizer.zero_grad()

        step()
        return measure(backend, step, model.parameters(), optimizer)
    finally:
        backend.close()


def layer_cost(name: str) -> tuple[StepCost, StepCost]:
    """(the step with one layer, each further layer's cost) of `CONFIGS[name]`: a step
    with N layers costs the first plus N - 1 times the second."""
    one, two = step_cost(name, 1), step_cost(name, 2)
    return one, two.minus(one)
