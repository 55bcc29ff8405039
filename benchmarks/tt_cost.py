"""What a training step costs the tt backend (ttnn calls, bytes copied and resident).

    python -m benchmarks.tt_cost [--config tinyllama_lora|nano_trickster] [--golden]

Builds each config with one and with two layers, takes one AdamW step (optimizer state,
constants, frozen-weight layouts), measures the second with
`ttcustom.backends.tt.cost.measure`, and prints the one-layer step and the cost of each
further layer. On a card it runs on the device (ttnn must be importable); `--golden`
runs the same calls through the test suite's golden harness instead (a checkout with
tests/, no device needed). See docs/tt_backend.md, "What a step costs".
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any

import torch

import ttcustom as tc
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


def step_cost(name: str, layers: int, make_ttnn: Callable[[], Any] | None = None) -> StepCost:
    """The second AdamW step of `CONFIGS[name]` with `layers` layers, measured on a
    TTBackend over `make_ttnn()` (default: the installed ttnn, i.e. the device)."""
    from ttcustom.backends.tt import TTBackend

    fields, targets, (batch, seq) = CONFIGS[name]
    backend = TTBackend(ttnn=make_ttnn() if make_ttnn else None)
    try:
        tc.manual_seed(0)
        model = build_model(ModelConfig(model_type="llama", num_hidden_layers=layers, **fields),
                            dtype=torch.bfloat16, backend=backend)
        if targets:
            apply_lora(model, r=16, alpha=32, target_modules=targets)
        optimizer = AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4,
                          weight_decay=0.01)
        ids = torch.randint(0, fields["vocab_size"], (batch, seq),
                            generator=torch.Generator().manual_seed(0))

        def step() -> None:
            model(ids, labels=ids).loss.backward()
            optimizer.step()
            optimizer.zero_grad()

        step()
        return measure(backend, step, model.parameters(), optimizer)
    finally:
        backend.close()


def layer_cost(name: str, make_ttnn: Callable[[], Any] | None = None
               ) -> tuple[StepCost, StepCost]:
    """(the step with one layer, each further layer's cost) of `CONFIGS[name]`: a step
    with N layers costs the first plus N - 1 times the second. (The first layer can be
    cheaper than the others: with a frozen embedding it computes no input gradient.)"""
    one, two = step_cost(name, 1, make_ttnn), step_cost(name, 2, make_ttnn)
    return one, two.minus(one)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.tt_cost",
                                     description="ttnn calls and bytes of a tt training step")
    parser.add_argument("--config", choices=list(CONFIGS), action="append",
                        help="repeatable; default: all")
    parser.add_argument("--golden", action="store_true",
                        help="run through tests/tt/golden.py instead of a device")
    args = parser.parse_args(argv)
    make_ttnn = None
    if args.golden:
        from tests.tt.golden import GoldenTTNN

        make_ttnn = GoldenTTNN
    for name in args.config or CONFIGS:
        one, layer = layer_cost(name, make_ttnn)
        print(one.format(f"{name}, one layer"))
        print(layer.format(f"{name}, each further layer"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
