"""CT-4: your first fine-tune: LoRA on a pretrained Llama with the trickster data.

    python examples/ct4_finetune.py                          # CPU: the shipped starter Llama
    python examples/ct4_finetune.py --model PATH/TinyLlama   # a card: the tutorial's TinyLlama run

Runs `examples/configs/trickster_lora.yaml` (with --model:
`trickster_tinyllama_n150.yaml`), the same files `ttcustom train` takes:
1. asks the base model the validation prompts;
2. fine-tunes LoRA adapters: the data is validated, the loss falls, samples are printed
   at each evaluation, checkpoints are written;
3. asks the fine-tuned model the same prompts, next to the base answers;
4. leaves final_model/ (merged, for transformers/vLLM) and final_adapter/ (PEFT).
Set TTCUSTOM_EXAMPLE_FAST=1 for a few steps only (the test suite does).
Lesson: docs/lessons/ct4-finetuning.md
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import torch

from ttcustom.data import encode_text, format_prompt
from ttcustom.train.config import load_config
from ttcustom.train.recipe import build_trainer

FAST = os.environ.get("TTCUSTOM_EXAMPLE_FAST") == "1"
EXAMPLES = Path(__file__).resolve().parent
PROMPTS = ["What is a neural network?", "Explain what backpropagation does"]


def overrides(args: argparse.Namespace) -> list[str]:
    """Absolute data/model paths (so the script runs from any directory) and the short run."""
    items = [f"data.train_file={EXAMPLES / 'data' / 'trickster_train.jsonl'}",
             f"data.val_file={EXAMPLES / 'data' / 'trickster_val.jsonl'}",
             f"logging_config.output_dir={args.out}", "logging_config.progress_bar=false",
             "logging_config.overwrite_output_dir=true"]  # a rerun replaces the last one
    items.append(f"model.path={args.model or EXAMPLES / 'checkpoints' / 'tiny-llama-starter'}")
    if FAST:
        items += ["training_config.max_steps=6", "training_config.validation_frequency=3",
                  "training_config.checkpoint_frequency=3", "eval_config.max_new_tokens=12"]
    return items


@torch.no_grad()
def answers(trainer, max_new_tokens: int) -> list[str]:
    """Greedy answers to PROMPTS, prompted the way the training data is rendered."""
    model, tokenizer = trainer.model, trainer.tokenizer
    replies = []
    for prompt in PROMPTS:
        ids = encode_text(tokenizer, format_prompt(prompt, "prompt_response"))
        out = model.generate([ids], max_new_tokens=max_new_tokens, temperature=0.0,
                             eos_token_id=tokenizer.eos_token_id)
        replies.append(tokenizer.decode(out[0, len(ids):].tolist(), skip_special_tokens=True))
    return replies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a TinyLlama (or other Llama) checkpoint directory")
    parser.add_argument("--out", default="output/ct4")
    args = parser.parse_args()
    name = "trickster_tinyllama_n150.yaml" if args.model else "trickster_lora.yaml"
    config = load_config(EXAMPLES / "configs" / name, overrides(args))
    trainer = build_trainer(config)  # data validated, model loaded, LoRA applied
    trainable = sum(p.numel() for p in trainer.model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in trainer.model.parameters())
    print(f"{config.model.path}: {total:,} parameters, {trainable:,} in LoRA adapters "
          f"(rank {config.lora.r} on {', '.join(config.lora.target_modules)})")

    length = config.eval_config.max_new_tokens
    before = answers(trainer, length)
    baseline = trainer.evaluate()["val_loss"]
    state = trainer.train()
    after = answers(trainer, length)
    final = state.history["val"][-1][1]

    print(f"\nvalidation loss {baseline:.3f} -> {final:.3f} after {state.step} steps")
    for prompt, old, new in zip(PROMPTS, before, after):
        print(f"\nQ: {prompt}\n  base:       {old.strip()!r}\n  fine-tuned: {new.strip()!r}")
    out = Path(args.out)
    print(f"\nexported {out / 'final_model'} (merged) and {out / 'final_adapter'} (PEFT adapter)")


if __name__ == "__main__":
    main()
