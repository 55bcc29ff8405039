"""`ttcustom plan CONFIG.yaml` (memory estimate) and `ttcustom bench` (the benchmark suite).

`plan` reads the run config with the trainer's schema: the model (a checkpoint
directory's config.json, never its weights, or the from-scratch `model_config`), the
batch size per device, the sequence length, dtype, optimizer, LoRA and the data-parallel
mesh. `bench` runs `python -m benchmarks` of the source checkout this package lives in, as a
separate program (the library never imports `benchmarks/`).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from ttcustom.memory.report import Request, as_dict, format_report


def register(sub: Any) -> None:
    p = sub.add_parser("plan", help="estimate device memory of a training config",
                       description="Estimate per-device memory (weights, gradients, optimizer "
                       "state, activations with and without gradient checkpointing) of "
                       "CONFIG's training step in float32 and bfloat16, and whether it fits "
                       "n150, n300, p100, p150, T3K and Galaxy, with the largest batch that does.")
    p.add_argument("config", help="YAML run config (as for `ttcustom train`)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key, e.g. --set training_config.batch_size=4")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=_plan)
    b = sub.add_parser("bench", help="run the benchmark suite (from a source checkout)",
                       description="Run `python -m benchmarks` of this source checkout; "
                       "arguments after `bench` go to it (see `ttcustom bench -- --help`).")
    b.add_argument("args", nargs=argparse.REMAINDER, help="arguments of python -m benchmarks")
    b.set_defaults(func=_bench)


def request_from_config(config: Any) -> Request:
    """The planner's inputs from a validated `ttcustom.train.config.RunConfig`."""
    from ttcustom.models import ModelConfig, read_config
    from ttcustom.train.config import ArchitectureSection
    from ttcustom.train.recipe import max_sequence_length

    if config.model.path is not None:
        model_config = read_config(config.model.path)
    else:
        arch = config.architecture or ArchitectureSection()
        model_config = ModelConfig(
            model_type=config.model.architecture, vocab_size=arch.vocab_size,
            hidden_size=arch.hidden_dim, intermediate_size=arch.mlp_dim,
            num_hidden_layers=arch.num_layers, num_attention_heads=arch.num_heads,
            num_key_value_heads=arch.num_kv_heads, max_position_embeddings=arch.max_seq_len,
            tie_word_embeddings=arch.tie_embeddings, hidden_dropout=arch.dropout)
    training, device = config.training_config, config.device_config
    optimizer = training.optimizer
    if optimizer == "sgd" and training.momentum > 0:
        optimizer = "sgd_momentum"
    lora = None
    if config.lora_enabled:
        targets = config.lora.target_modules
        lora = {"r": config.lora.r,
                "target_modules": "all-linear" if targets == ["all-linear"] else targets}
    mesh = device.mesh_shape
    return Request(
        model_config=model_config, batch_size=training.batch_size,
        seq_len=max_sequence_length(config),
        dtype="bfloat16" if device.dtype == "auto" else device.dtype,  # tt's default
        optimizer=optimizer, lora=lora,
        world_size=mesh[0] * mesh[1] if device.enable_ddp else 1)


def _plan(args: argparse.Namespace) -> int:
    from ttcustom.train.config import load_config

    request = request_from_config(load_config(args.config, args.overrides))
    print(json.dumps(as_dict(request), indent=2) if args.json else format_report(request))
    return 0


def _bench(args: argparse.Namespace) -> int:
    checkout = Path(__file__).resolve().parents[2]
    if not (checkout / "benchmarks" / "__main__.py").is_file():
        raise FileNotFoundError(f"`ttcustom bench` runs the benchmarks/ folder of a source "
                                f"checkout; none next to {checkout / 'ttcustom'}. Clone the "
                                "repository and run it there (or `python -m benchmarks`).")
    # a program of the checkout, run as one: the library itself never imports benchmarks/
    forwarded = args.args[1:] if args.args[:1] == ["--"] else args.args
    paths = [str(checkout), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    return subprocess.run([sys.executable, "-m", "benchmarks", *forwarded], env=env).returncode


__all__ = ["register", "request_from_config"]
