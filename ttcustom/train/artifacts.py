"""Model directories a run leaves behind: `final_model/` (transformers/vLLM) and adapters."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from ttcustom.data.encode import adds_bos
from ttcustom.data.formats import prompt_chat_template
from ttcustom.data.tokenizers import save_tokenizer
from ttcustom.io import mark_written, save_file, write_json
from ttcustom.train.checkpoint import model_tensors


def save_model_dir(model: Any, out_dir: str | Path, tokenizer: Any = None,
                   prompt_format: str = "raw", prompt_template: str | None = None,
                   dtype: torch.dtype | None = None) -> Path:
    """A transformers checkpoint directory (LoRA merged) with the tokenizer.

    Models without a transformers config (e.g. a user's own Module) are written as one
    `model.safetensors`. For prompt/response training the tokenizer gets a chat template
    that reproduces the training prompt, so chat front-ends prompt the model correctly.
    """
    from ttcustom.export import to_hf
    from ttcustom.models import CausalLM

    out_dir = Path(out_dir)
    if isinstance(model, CausalLM):
        to_hf(model, out_dir, dtype=dtype)
    else:
        out_dir.mkdir(parents=True, exist_ok=True)
        save_file(model_tensors(model, trainable_only=False), out_dir / "model.safetensors")
    if tokenizer is not None:
        if prompt_format == "prompt_response":  # replaces a base model's own (e.g. ChatML)
            tokenizer.chat_template = prompt_chat_template(prompt_template, adds_bos(tokenizer))
        save_tokenizer(tokenizer, out_dir)
        add_eos_ids(out_dir / "generation_config.json", tokenizer.eos_token_id)
        if isinstance(model, CausalLM):
            mark_written(out_dir)  # the next export may replace these files too
    return out_dir


def add_eos_ids(path: Path, eos_id: int | None) -> None:
    """Make generation stop at the EOS the training examples end with (the tokenizer's),
    besides the source model's own stop ids."""
    if eos_id is None or not path.is_file():
        return
    config = json.loads(path.read_text())
    ids = config.get("eos_token_id")
    ids = [] if ids is None else ids if isinstance(ids, list) else [ids]
    if eos_id not in ids:
        config["eos_token_id"] = eos_id if not ids else [*ids, eos_id]
        write_json(path, config)
