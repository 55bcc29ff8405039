"""CT-3: write a training config, validate it, and read what the loader reports.

    python examples/ct3_config.py [--out output/ct3]

1. writes the tutorial's N150 config (its own key names) and validates it;
2. validates a copy with typical mistakes: every problem is listed with file:line;
3. applies command-line style overrides (`--set key.path=value`);
4. derives the N300 variant and the effective batch size of each;
5. saves the resolved config, every default filled in, as each run does.
Lesson: docs/lessons/ct3-configuration.md
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ttcustom.train.config import ConfigError, RunConfig, load_config, save_config

# The tutorial's training_n150.yaml, keys as the tutorial writes them.
N150_YAML = """\
training_config:
  seed: 42
  batch_size: 8                    # N150: conservative for DRAM
  validation_batch_size: 2
  num_epochs: 3
  max_steps: 500                   # whichever comes first
  learning_rate: 1e-4              # standard for fine-tuning
  weight_decay: 0.01
  use_moreh_adamw: true
  use_clip_grad_norm: true
  clip_grad_norm_max_norm: 1.0
  gradient_accumulation_steps: 4   # effective batch 8 x 4 = 32
  eval_every: 50
  model_save_interval: 100
  log_level: "INFO"
  use_wandb: false

eval_config:
  temperature: 0.0                 # greedy samples at each evaluation
  top_k: 50

device_config:
  enable_ddp: false                # N150: one chip
  mesh_shape: [1, 1]
"""

# The same file with four mistakes people make.
BROKEN_YAML = """\
training_config:
  batch_size: eight
  learning_rat: 1e-4
  num_epochs: 3
  scheduler: cosin

device_config:
  mesh_shape: [1, 2]
"""


def effective_batch(config: RunConfig) -> str:
    training, device = config.training_config, config.device_config
    replicas = device.mesh_shape[0] * device.mesh_shape[1]
    total = training.batch_size * replicas * training.gradient_accumulation_steps
    return (f"{training.batch_size} per device x {replicas} device(s) x "
            f"{training.gradient_accumulation_steps} accumulation steps = {total} examples")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="output/ct3")
    out = Path(parser.parse_args().out)
    out.mkdir(parents=True, exist_ok=True)

    print("1. the tutorial's N150 config, as written")
    n150_path = out / "training_n150.yaml"
    n150_path.write_text(N150_YAML, encoding="utf-8")
    n150 = load_config(n150_path)
    training = n150.training_config
    print(f"  {n150_path}: valid")
    print(f"  eval_every -> validation_frequency = {training.validation_frequency}; "
          f"model_save_interval -> checkpoint_frequency = {training.checkpoint_frequency}; "
          f"clip_grad_norm_max_norm -> grad_clip = {training.grad_clip}\n")

    print("2. a config with mistakes: every problem, with its line")
    broken_path = out / "broken.yaml"
    broken_path.write_text(BROKEN_YAML, encoding="utf-8")
    try:
        load_config(broken_path)
    except ConfigError as err:
        print("\n".join(f"  {problem}" for problem in err.problems))
    print()

    print("3. overrides, as `ttcustom train CONFIG --set KEY=VALUE` applies them")
    tuned = load_config(n150_path, overrides=["training_config.learning_rate=3e-4",
                                              "training_config.max_steps=1000"])
    print(f"  learning_rate {training.learning_rate} -> {tuned.training_config.learning_rate}, "
          f"max_steps {training.max_steps} -> {tuned.training_config.max_steps}\n")

    print("4. hardware variants")
    n300 = load_config(n150_path, overrides=["device_config.enable_ddp=true",
                                             "device_config.mesh_shape=[1, 2]",
                                             "training_config.gradient_accumulation_steps=2"])
    print(f"  N150: {effective_batch(n150)}")
    print(f"  N300: {effective_batch(n300)}\n")

    print("5. the resolved config (defaults filled in), saved with every run")
    resolved = out / "resolved.yaml"
    save_config(n150, resolved)
    print(resolved.read_text(encoding="utf-8"))
    assert load_config(resolved) == n150, "a saved config loads back unchanged"


if __name__ == "__main__":
    main()
