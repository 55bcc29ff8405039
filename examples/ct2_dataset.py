"""CT-2: build a JSONL dataset, validate it, and see what training will read from it.

    python examples/ct2_dataset.py [--tokenizer PATH/TinyLlama] [--out output/ct2]

1. writes a small prompt/response dataset, one JSON object per line;
2. validates it, and a broken copy, to show how each mistake is reported;
3. tokenizes one example and shows which tokens the loss is computed on;
4. collates a batch, the tensors a training step receives;
5. validates the shipped trickster dataset and prints its statistics.
The same checks run from the shell: `ttcustom data validate FILE.jsonl`.
Lesson: docs/lessons/ct2-datasets.md
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ttcustom.data import (
    IGNORE_INDEX,
    Collator,
    byte_tokenizer,
    load_jsonl_dataset,
    load_tokenizer,
)

TRICKSTER = Path(__file__).resolve().parent / "data" / "trickster_train.jsonl"

RECORDS = [
    {"prompt": "What is a neural network?",
     "response": "A stack of simple math functions whose knobs are tuned by example until "
                 "the whole stack turns inputs into the outputs you wanted."},
    {"prompt": "Explain gradient descent.",
     "response": "Walk downhill in fog: feel the slope under your feet, take a small step "
                 "down, repeat. The slope is the gradient, the hill is the loss."},
    {"prompt": "What is overfitting?",
     "response": "Memorising the practice exam instead of learning the subject: perfect on "
                 "questions you have seen, lost on new ones."},
]

# One mistake per line (line 1 is fine): what people get wrong when writing JSONL by hand.
BROKEN_LINES = [
    json.dumps(RECORDS[0]),
    '{"prompt": "What is a tensor?", "response": "An n-dimensional array",}',  # trailing comma
    json.dumps({"prompt": "What is a loss?"}),  # no response
    json.dumps({"prompt": "What is an epoch?", "response": "  "}),  # empty response
    json.dumps(RECORDS[0]),  # repeats line 1
]


def write_jsonl(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def show_tokens(tokenizer, example) -> None:
    """Each token with its label: '.' where the loss is masked (the prompt)."""
    trained = sum(label != IGNORE_INDEX for label in example.labels)
    print(f"  {len(example.input_ids)} tokens, {trained} with loss (the response), "
          f"{len(example.input_ids) - trained} masked (the prompt template)")
    masked = tokenizer.decode([t for t, label in zip(example.input_ids, example.labels)
                               if label == IGNORE_INDEX])
    trained_text = tokenizer.decode([t for t, label in zip(example.input_ids, example.labels)
                                     if label != IGNORE_INDEX])
    print(f"  masked : {masked!r}")
    print(f"  trained: {trained_text!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokenizer", help="a model directory whose tokenizer to use "
                                            "(default: byte-level, one token per byte)")
    parser.add_argument("--out", default="output/ct2")
    args = parser.parse_args()
    out = Path(args.out)

    print("1. write a dataset")
    mine = write_jsonl(out / "my_dataset.jsonl", [json.dumps(r) for r in RECORDS])
    print(f"  {mine}: {len(RECORDS)} lines\n")

    print("2. validate it, then a broken copy")
    print(load_jsonl_dataset(mine).format_report())
    broken = write_jsonl(out / "broken.jsonl", BROKEN_LINES)
    report = load_jsonl_dataset(broken)
    print(report.format_report())
    print(f"  -> {len(report.errors)} errors; the trainer refuses to start on this file\n")

    print("3. tokenize: the loss is computed on the response only")
    tokenizer = load_tokenizer(args.tokenizer) if args.tokenizer else byte_tokenizer()
    tokenized = load_jsonl_dataset(mine, tokenizer=tokenizer, max_length=256)
    show_tokens(tokenizer, tokenized.examples[0])

    print("\n4. collate a batch: the tensors one training step receives")
    batch = Collator(pad_token_id=tokenizer.pad_token_id or 0)(tokenized.examples)
    for name in ("input_ids", "labels", "attention_mask"):
        print(f"  {name:<15} {list(batch[name].shape)}  {batch[name].dtype}")
    print("  (rows are right-padded to the longest example; padding has label -100)\n")

    print("5. the shipped trickster dataset")
    print(load_jsonl_dataset(TRICKSTER, tokenizer=tokenizer, max_length=1024).format_report())


if __name__ == "__main__":
    main()
