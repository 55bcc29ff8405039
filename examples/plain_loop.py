"""Your own training script: model + data + optimizer + loop, no Trainer.

    python examples/plain_loop.py                        # a small Llama from scratch, byte tokens
    python examples/plain_loop.py --model PATH/TinyLlama # fine-tune a transformers checkpoint

Everything the Trainer does, written out as in a PyTorch script: validated data,
AdamW with warmup + cosine schedule, gradient clipping, periodic evaluation, a sample,
and an export that transformers and vLLM load. Each step is checked to read nothing
back from the device: the loss is read only when it is printed.
Set TTCUSTOM_EXAMPLE_FAST=1 for a shorter run (the test suite does).
Lesson: docs/lessons/plain-loop.md
"""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

import ttcustom as tc
from ttcustom.data import (
    DataLoader,
    DataValidationError,
    byte_tokenizer,
    encode_text,
    format_prompt,
    load_jsonl_dataset,
    load_tokenizer,
    save_tokenizer,
)
from ttcustom.export import to_hf
from ttcustom.models import ModelConfig, build_model, from_hf
from ttcustom.optim.lr_scheduler import get_cosine_schedule_with_warmup

FAST = os.environ.get("TTCUSTOM_EXAMPLE_FAST") == "1"
DATA = Path(__file__).resolve().parent / "data"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a transformers checkpoint directory to fine-tune")
    parser.add_argument("--train", default=str(DATA / "trickster_train.jsonl"))
    parser.add_argument("--val", default=str(DATA / "trickster_val.jsonl"))
    parser.add_argument("--steps", type=int, default=30 if FAST else 300)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-length", type=int, default=128 if FAST else 256)
    parser.add_argument("--lr", type=float, default=None, help="default: 3e-3 scratch, 1e-4 fine-tune")
    parser.add_argument("--out", default="output/plain_loop")
    return parser.parse_args()


def dataset(path: str, tokenizer, max_length: int) -> list:
    """Tokenized examples of a JSONL file; any bad line stops the run with the full report."""
    report = load_jsonl_dataset(path, tokenizer=tokenizer, max_length=max_length, truncate=True)
    if not report.ok:
        raise DataValidationError(report)
    return report.examples


def small_llama() -> ModelConfig:
    """A 0.8M-parameter Llama over bytes: trains in minutes on a CPU."""
    return ModelConfig(model_type="llama", vocab_size=256, hidden_size=128,
                       intermediate_size=384, num_hidden_layers=4, num_attention_heads=4,
                       num_key_value_heads=2, max_position_embeddings=512,
                       tie_word_embeddings=True)


@tc.no_grad()
def evaluate(model, loader: DataLoader) -> float:
    """Mean loss over one pass of `loader` (one read-back at the end)."""
    model.eval()
    total, batches = None, 0
    for batch in loader:
        loss = model(batch["input_ids"], batch["attention_mask"], batch["labels"]).loss
        total = loss if total is None else total + loss
        batches += 1
    model.train()
    return total.item() / batches


def main() -> None:
    args = parse_args()
    tc.manual_seed(0)
    if args.model:
        tokenizer = load_tokenizer(args.model)
        model = from_hf(args.model)
    else:
        tokenizer = byte_tokenizer()
        model = build_model(small_llama())
    lr = args.lr or (1e-4 if args.model else 3e-3)
    train = DataLoader(dataset(args.train, tokenizer, args.max_length), args.batch_size, seed=0)
    val = DataLoader(dataset(args.val, tokenizer, args.max_length), args.batch_size,
                     shuffle=False)
    params = [p for p in model.parameters() if p.requires_grad]
    print(f"model: {sum(p.numel() for p in params):,} trainable parameters on "
          f"{model.backend.name}; {len(train)} batches per epoch")

    optimizer = tc.optim.AdamW(params, lr=lr, weight_decay=0.01)
    schedule = get_cosine_schedule_with_warmup(optimizer, num_warmup_steps=args.steps // 10,
                                               num_training_steps=args.steps, min_lr_ratio=0.1)
    device = model.backend
    initial = evaluate(model, val)
    print(f"step    0  val loss {initial:.3f}")
    step, batches = 0, iter(train)
    while step < args.steps:
        batch = next(batches, None)
        if batch is None:  # epoch over: start the next one
            batches = iter(train)
            continue
        device.transfers.reset()
        loss = model(batch["input_ids"], batch["attention_mask"], batch["labels"]).loss
        loss.backward()
        tc.optim.clip_grad_norm_(params, max_norm=1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
        assert device.transfers.downloads == 0, "a training step read values back to the host"
        step += 1
        if step % 10 == 0:
            print(f"step {step:>4}  loss {loss.item():.3f}  lr {schedule.get_last_lr()[0]:.2e}")
    final = evaluate(model, val)
    print(f"val loss {initial:.3f} -> {final:.3f} (perplexity {math.exp(final):.1f})")

    # Prompt the way the training data was rendered (the prompt/response template).
    prompt = encode_text(tokenizer, format_prompt("What is overfitting?", "prompt_response"))
    sample = model.generate([prompt], max_new_tokens=40, seed=0)[0, len(prompt):]
    print(f"sample: {tokenizer.decode(sample.tolist())!r}")

    out = Path(args.out)
    to_hf(model, out / "model", tokenizer_dir=args.model)
    if not args.model:
        save_tokenizer(tokenizer, out / "model")
    print(f"saved {out / 'model'} (load it with transformers.AutoModelForCausalLM)")


if __name__ == "__main__":
    main()
