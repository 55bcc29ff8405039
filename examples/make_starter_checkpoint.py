"""Regenerate examples/checkpoints/tiny-llama-starter: the small pretrained Llama of the main job.

    python examples/make_starter_checkpoint.py [--set KEY=VALUE ...]

1. writes the pretraining corpus: our own glossary (examples/data/starter_corpus.txt)
   followed by the trickster training prompts and responses as plain text (no
   ### Question / ### Answer template: fine-tuning teaches the model to answer);
2. trains a byte-level BPE tokenizer (1024 tokens) on it;
3. pretrains a 4-layer Llama (about 1M parameters) from scratch on it with
   `examples/configs/starter_pretrain.yaml` (a few minutes on 2 CPU cores);
4. copies the resulting `final_model/` (a transformers directory) into place.
Nothing is downloaded.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from ttcustom.data import save_tokenizer, train_bpe_tokenizer
from ttcustom.train.config import load_config
from ttcustom.train.recipe import train_from_config

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "examples/data/starter_corpus.txt"
TRICKSTER = ROOT / "examples/data/trickster_train.jsonl"
CONFIG = ROOT / "examples/configs/starter_pretrain.yaml"
TARGET = ROOT / "examples/checkpoints/tiny-llama-starter"


def write_corpus(path: Path) -> Path:
    records = [json.loads(line) for line in TRICKSTER.read_text().splitlines() if line.strip()]
    trickster = "\n\n".join(f"{r['prompt']}\n{r['response']}" for r in records)
    path.write_text(CORPUS.read_text() + "\n" + trickster + "\n", encoding="utf-8")
    return path


def write_model_card(target: Path, val_loss: float) -> None:
    target.joinpath("README.md").write_text(f"""# tiny-llama-starter

A 4-layer Llama (about 1M parameters, byte-level BPE with 1024 tokens) pretrained from
scratch by ttcustom on text from this repository only: the glossary in
`examples/data/starter_corpus.txt` (written for the project) and the prompts and
responses of `examples/data/trickster_train.jsonl`, as plain text. Validation loss
{val_loss:.3f} on the held-out last 10% of that text. It is the starting point of the
README's fine-tuning job (`examples/configs/trickster_lora.yaml`); it is far too small
to be useful on its own.

Regenerate it with `python examples/make_starter_checkpoint.py`. Loads with
`ttcustom.models.from_hf` and `transformers.AutoModelForCausalLM`.
""")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--out", type=Path, default=TARGET, help=f"default: {TARGET}")
    args = parser.parse_args()
    config = load_config(CONFIG, args.overrides)
    work = Path(config.logging_config.output_dir)
    work.mkdir(parents=True, exist_ok=True)
    corpus = write_corpus(work / "pretraining_corpus.txt")
    tokenizer = train_bpe_tokenizer([corpus], config.architecture.vocab_size)
    save_tokenizer(tokenizer, work / "bpe_tokenizer")
    config = load_config(CONFIG, [*args.overrides, f"data.corpus={corpus}",
                                  f"data.tokenizer.path={work / 'bpe_tokenizer'}"])
    trainer = train_from_config(config)
    shutil.rmtree(args.out, ignore_errors=True)
    shutil.copytree(trainer.output_dir / "final_model", args.out)
    val_loss = trainer.state.history["val"][-1][1]
    write_model_card(args.out, val_loss)
    print(f"wrote {args.out} (validation loss {val_loss:.3f})")


if __name__ == "__main__":
    main()
