"""Model directories a run leaves behind: `final_model/` (transformers/vLLM) and adapters."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from ttcustom.data.formats import prompt_chat_template
from ttcustom.data.tokenizers import save_tokenizer
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
    from ttcustom.export.files import mark_written
    from ttcustom.models import CausalLM

    out_dir = Path(out_dir)
    if isinstance(model, CausalLM):
        to_hf(model, out_dir, dtype=dtype)
    else:
        out_dir.mkdir(parents=True, exist_ok=True)
        save_file(model_tensors(model, trainable_only=False), str(out_dir / "model.safetensors"))
    if tokenizer is not None:
        if prompt_format == "prompt_response" and not getattr(tokenizer, "chat_template", None):
            tokenizer.chat_template = prompt_chat_template(prompt_template)
        save_tokenizer(tokenizer, out_dir)
        if isinstance(model, CausalLM):
            mark_written(out_dir)  # the next export may replace these files too
    return out_dir


def has_lora(model: Any) -> bool:
    from ttcustom.nn.lora import LoRALinear

    return any(isinstance(m, LoRALinear) for m in model.modules())
