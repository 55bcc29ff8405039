"""CT-8 Nano-Trickster: the lesson's byte-level model trained briefly on tiny-shakespeare.

The corpus is not part of the repository; CI provides it at ../shared/data (relative
to the repository root). The run uses the lesson's architecture and config file,
shortened (a few hundred steps, 128-byte blocks, a shorter warmup).
"""

import json
import re
from pathlib import Path

import pytest

from ttcustom.train.config import load_config
from ttcustom.train.recipe import train_from_config

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO.parent / "shared" / "data" / "tinyshakespeare.txt"
LN_256 = 5.545


@pytest.mark.slow
@pytest.mark.skipif(not CORPUS.is_file(), reason=f"tiny-shakespeare not found at {CORPUS}")
def test_nano_trickster_learns_shakespeare_structure(tmp_path):
    config = load_config(REPO / "examples" / "configs" / "nano_trickster.yaml", [
        f"data.corpus={CORPUS}", f"logging_config.output_dir={tmp_path}",
        "logging_config.progress_bar=false", "logging_config.log_every=25",
        "training_config.max_steps=300", "training_config.batch_size=8",
        "training_config.max_sequence_length=128", "training_config.warmup_steps=30",
        "training_config.learning_rate=2e-3", "training_config.validation_frequency=300",
        "training_config.checkpoint_frequency=300", "training_config.eval_batches=8",
        "eval_config.prompts=['ROMEO:']", "eval_config.max_new_tokens=200"])
    trainer = train_from_config(config)
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    val_loss = [row["val_loss"] for row in rows if "val_loss" in row][-1]
    speed = [row["tokens_per_s"] for row in rows if "tokens_per_s" in row]
    samples = (tmp_path / "validation.txt").read_text()
    print(f"\nNano-Trickster: {trainer.state.step} steps, validation loss {val_loss:.3f} "
          f"(ln 256 = {LN_256}), median {sorted(speed)[len(speed) // 2]:.0f} tokens/s\n{samples}")
    assert val_loss < 3.0
    answer = samples.split("A1: ", 1)[1]
    assert "\n" in answer
    assert re.search(r"^[A-Z][A-Za-z]+( [A-Z][A-Za-z]+)?:$", "ROMEO:\n" + answer, re.MULTILINE)
