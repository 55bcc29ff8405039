"""CT-8: train a 10-20M-parameter transformer from scratch, with its own BPE tokenizer.

    python examples/ct8_from_scratch.py --corpus input.txt   # e.g. tiny-shakespeare
    python examples/ct8_from_scratch.py                      # the trickster answers as corpus

1. trains a byte-level BPE tokenizer on the corpus;
2. builds a Llama-style model from random weights (Nano-Trickster's shape, wider);
3. measures the untrained model: its loss is ln(vocab), a uniform guess;
4. trains with warmup + cosine decay, evaluating and sampling as it goes;
5. exports the model and its tokenizer for transformers and vLLM.
ttcustom ships no corpus: without --corpus the trickster answers (about 140 KB) stand
in for one. TTCUSTOM_EXAMPLE_FAST=1 trains a much smaller model for a few steps (the
test suite does); the architecture below is the real one.
Lesson: docs/lessons/ct8-from-scratch.md
"""

from __future__ import annotations

import argparse
import json
import math
import os
from pathlib import Path

from ttcustom.train.config import load_config
from ttcustom.train.recipe import build_trainer

FAST = os.environ.get("TTCUSTOM_EXAMPLE_FAST") == "1"
TRICKSTER = Path(__file__).resolve().parent / "data" / "trickster_train.jsonl"

# The model of this lesson: 6 blocks of width 384 over a 4,096-token BPE vocabulary.
ARCHITECTURE = {
    "vocab_size": 4096,
    "hidden_dim": 384,  # multiples of 32 all the way down (tile layout)
    "num_layers": 6,
    "num_heads": 6,  # head dim 64
    "mlp_dim": 1024,
    "max_seq_len": 256,
    "tie_embeddings": True,
}
TRAINING = {"batch_size": 16, "max_steps": 2000, "learning_rate": 3e-4, "warmup_steps": 200,
            "min_lr_ratio": 0.1, "validation_frequency": 250, "checkpoint_frequency": 1000}
# The short run of the test suite: the same recipe, a model small enough for seconds.
FAST_ARCHITECTURE = {**ARCHITECTURE, "vocab_size": 512, "hidden_dim": 64, "num_layers": 2,
                     "num_heads": 2, "mlp_dim": 128, "max_seq_len": 64}
FAST_TRAINING = {**TRAINING, "batch_size": 8, "max_steps": 30, "learning_rate": 3e-3,
                 "warmup_steps": 5, "validation_frequency": 15, "checkpoint_frequency": 30,
                 "eval_batches": 4}


def trickster_corpus(path: Path) -> Path:
    """The trickster answers as one plain-text file, a stand-in for a real corpus."""
    lines = TRICKSTER.read_text(encoding="utf-8").splitlines()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n\n".join(json.loads(line)["response"] for line in lines) + "\n",
                    encoding="utf-8")
    return path


def run_config(corpus: Path, out: Path) -> dict:
    """The YAML config of this run, as a dict (`ttcustom train` reads the same keys)."""
    architecture = FAST_ARCHITECTURE if FAST else ARCHITECTURE
    return {
        "model_config": architecture,
        "training_config": FAST_TRAINING if FAST else TRAINING,
        "data": {"corpus": str(corpus), "val_split": 0.1,
                 "tokenizer": {"kind": "bpe", "vocab_size": architecture["vocab_size"]}},
        "eval_config": {"prompts": ["The model"], "max_new_tokens": 40, "temperature": 0.8,
                        "top_k": 40},
        "logging_config": {"output_dir": str(out), "overwrite_output_dir": True,
                           "progress_bar": False, "log_every": 10},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", help="a plain-text training corpus")
    parser.add_argument("--out", default="output/ct8")
    args = parser.parse_args()
    out = Path(args.out)
    corpus = Path(args.corpus) if args.corpus else trickster_corpus(out / "corpus.txt")

    config = load_config(data=run_config(corpus, out))
    trainer = build_trainer(config)  # tokenizer trained, corpus cut into blocks, model built
    tokenizer, model = trainer.tokenizer, trainer.model
    params = sum(p.numel() for p in model.parameters())
    vocab = config.architecture.vocab_size
    print(f"tokenizer: {len(tokenizer):,} BPE tokens trained on {corpus} "
          f"(saved in {out / 'tokenizer'})")
    print(f"model: {params:,} parameters, {config.architecture.num_layers} blocks of width "
          f"{config.architecture.hidden_dim}; {len(trainer.train_loader)} batches per epoch")

    baseline = trainer.evaluate()["val_loss"]
    print(f"untrained: val loss {baseline:.3f} (uniform guess: ln {vocab} = {math.log(vocab):.3f})")
    state = trainer.train()
    final = state.history["val"][-1][1]
    print(f"trained {state.step} steps: val loss {baseline:.3f} -> {final:.3f}, "
          f"perplexity {math.exp(baseline):.0f} -> {math.exp(final):.1f}")
    print(f"exported {out / 'final_model'} (transformers / vLLM)")


if __name__ == "__main__":
    main()
