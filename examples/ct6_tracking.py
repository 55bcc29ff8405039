"""CT-6: track experiments with wandb (offline) and TensorBoard, and compare two runs.

    python examples/ct6_tracking.py [--out output/ct6]

Trains the same small model twice, with two learning rates, with every tracker on:
- metrics.jsonl and training_curves.png: always written, no extra package;
- TensorBoard event files (`pip install tensorboard`), read back here to compare runs;
- a wandb run in offline mode (`pip install wandb`): no account, no network; upload it
  later with `wandb sync`.
A tracker whose package is missing is left out with a note.
Set TTCUSTOM_EXAMPLE_FAST=1 for a shorter run (the test suite does).
Lesson: docs/lessons/ct6-tracking.md
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
from pathlib import Path

from ttcustom.train.config import load_config
from ttcustom.train.recipe import train_from_config

FAST = os.environ.get("TTCUSTOM_EXAMPLE_FAST") == "1"
DATA = Path(__file__).resolve().parent / "data"
LEARNING_RATES = (3e-3, 3e-4)


def installed(package: str) -> bool:
    found = importlib.util.find_spec(package) is not None
    if not found:
        print(f"  ({package} is not installed: pip install {package} to add its tracker)")
    return found


def run_config(lr: float, out: Path, wandb: bool, tensorboard: bool) -> dict:
    """A small byte-level Llama trained from scratch on the trickster data."""
    return {
        "model_config": {"vocab_size": 256, "hidden_dim": 64, "num_layers": 2, "num_heads": 2,
                         "mlp_dim": 192, "max_seq_len": 128},
        "training_config": {"batch_size": 8, "max_steps": 20 if FAST else 300,
                            "learning_rate": lr, "warmup_steps": 2 if FAST else 30,
                            "validation_frequency": 10 if FAST else 50, "eval_batches": 2,
                            "checkpoint_frequency": 1000},
        "data": {"train_file": str(DATA / "trickster_train.jsonl"),
                 "val_file": str(DATA / "trickster_val.jsonl"), "truncate": True},
        "logging_config": {"output_dir": str(out), "overwrite_output_dir": True,
                           "progress_bar": False, "log_every": 5,
                           "tensorboard": tensorboard, "use_wandb": wandb,
                           "wandb_mode": "offline", "wandb_project": "ttcustom-ct6",
                           "wandb_run_name": out.name},
    }


def tensorboard_scalars(run_dir: Path, tag: str) -> list[tuple[int, float]]:
    """(step, value) of one scalar, read back from a run's TensorBoard event files."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run_dir / "tensorboard"))
    events.Reload()
    return [(e.step, e.value) for e in events.Scalars(tag)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="output/ct6")
    out = Path(parser.parse_args().out)
    os.environ.setdefault("WANDB_SILENT", "true")
    wandb, tensorboard = installed("wandb"), installed("tensorboard")

    runs = {}
    for lr in LEARNING_RATES:
        run_dir = out / f"lr_{lr:g}"
        print(f"run {run_dir.name}: learning rate {lr:g}")
        trainer = train_from_config(load_config(data=run_config(lr, run_dir, wandb, tensorboard)))
        runs[lr] = run_dir
        print(f"  final validation loss {trainer.state.history['val'][-1][1]:.3f}")

    print("\nwhat each run left behind")
    for run_dir in runs.values():
        metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
        print(f"  {run_dir}: metrics.jsonl ({len(metrics)} records), training_curves.png"
              + (", tensorboard/" if tensorboard else "")
              + (", wandb/" if wandb else ""))

    if tensorboard:
        print("\ncompare the runs from their TensorBoard logs (eval/val_loss by step)")
        curves = {lr: dict(tensorboard_scalars(d, "eval/val_loss")) for lr, d in runs.items()}
        steps = sorted(set().union(*curves.values()))
        print("  step  " + "  ".join(f"lr {lr:<8g}" for lr in runs))
        for step in steps:
            print(f"  {step:>4}  " + "  ".join(f"{curves[lr].get(step, float('nan')):<11.3f}"
                                              for lr in runs))
        best = min(runs, key=lambda lr: curves[lr][steps[-1]])
        print(f"  -> lr {best:g} ends lower; view both: tensorboard --logdir {out}")
    if wandb:
        offline = sorted(str(p) for p in out.glob("*/wandb/offline-run-*"))
        print("\nwandb runs recorded offline; upload them when online with:")
        for path in offline:
            print(f"  wandb sync {path}")


if __name__ == "__main__":
    main()
