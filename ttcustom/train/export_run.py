"""Export a training checkpoint: rebuild the run's model, load the checkpoint, write it out."""

from __future__ import annotations

from pathlib import Path

import torch

from ttcustom.train import checkpoint as ckpt


def find_run(checkpoint: Path) -> tuple[Path, Path]:
    """(checkpoint directory, run directory holding config.yaml) for a checkpoint or run dir."""
    if not (checkpoint / ckpt.STATE_FILE).is_file():
        latest = ckpt.latest_checkpoint(checkpoint)
        if latest is None:
            raise FileNotFoundError(f"{checkpoint} is neither a checkpoint_step_N directory nor "
                                    "a run directory with one")
        checkpoint = latest
    for run_dir in (checkpoint.parent, checkpoint.parent.parent):
        if (run_dir / "config.yaml").is_file():
            return checkpoint, run_dir
    raise FileNotFoundError(f"no config.yaml next to {checkpoint}: export needs the run's "
                            "resolved config to rebuild the model")


def export_checkpoint(checkpoint: str | Path, to: str, out: str | Path,
                      dtype: str | None = None) -> Path:
    """Write `checkpoint` as a transformers directory (`to="hf"`) or a PEFT adapter."""
    from ttcustom.data import load_tokenizer
    from ttcustom.export import to_peft
    from ttcustom.lora import has_lora
    from ttcustom.train.artifacts import save_model_dir
    from ttcustom.train.config import load_config
    from ttcustom.train.recipe import build_model, resolve_backend

    source, run_dir = find_run(Path(checkpoint))
    problem = ckpt.verify_checkpoint(source)
    if problem is not None:
        raise ValueError(f"{source}: the checkpoint is damaged: {problem}; export an earlier "
                         "checkpoint_step_N of the run")
    config = load_config(run_dir / "config.yaml")
    saved = run_dir / "tokenizer"  # a Python-API run given no tokenizer= saved none
    tokenizer = load_tokenizer(saved if saved.is_dir() or config.model.path is None
                               else config.model.path)
    model = build_model(config, tokenizer, resolve_backend(config))
    ckpt.load_model_file(model, source / "model.safetensors")
    if to == "peft":
        if not has_lora(model):
            raise ValueError(f"{source} comes from a run without LoRA; export it with --to hf")
        return to_peft(model, out)
    state = ckpt.read_state(source)
    return save_model_dir(model, out, tokenizer, state.get("prompt_format", "raw"),
                          state.get("prompt_template"), getattr(torch, dtype) if dtype else None)
