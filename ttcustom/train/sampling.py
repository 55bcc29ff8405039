"""Answer a prompt with a model the way it was trained to see prompts (for samples and the CLI)."""

from __future__ import annotations

from typing import Any

import torch

from ttcustom.autograd.function import no_grad
from ttcustom.data.encode import encode_text
from ttcustom.data.formats import format_prompt


def complete(model: Any, tokenizer: Any, prompt: str, prompt_format: str = "raw", *,
             prompt_template: str | None = None, max_new_tokens: int = 64, temperature: float = 0.0, top_k: int | None = None,
             top_p: float | None = None, seed: int | None = 0) -> str:
    """The decoded continuation of `prompt` (prompt excluded), generated in eval mode."""
    from ttcustom.generation import generate

    ids = torch.tensor([encode_text(tokenizer, format_prompt(prompt, prompt_format, tokenizer,
                                                             prompt_template))])
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            out = generate(model, ids, max_new_tokens, temperature=temperature, top_k=top_k,
                           top_p=top_p, eos_token_id=tokenizer.eos_token_id, seed=seed)
    finally:
        model.train(was_training)
    return tokenizer.decode(out[0, ids.shape[1]:].tolist(), skip_special_tokens=True).strip()
