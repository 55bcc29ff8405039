"""Autoregressive generation with a KV cache: greedy, temperature, top-k, top-p.

The model runs on its backend; each step brings only the last position's logits [B, V]
to the host, where the next token is chosen (as transformers' logits processors do:
temperature, then top-k, then top-p). Batched prompts are left-padded: `attention_mask`
marks real tokens, and positions count real tokens only, so a padded prompt continues
exactly as it would alone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Integral, Real
from typing import Any

import torch

from ttcustom.autograd.function import no_grad
from ttcustom.autograd.tensor import Tensor
from ttcustom.nn.transformer import KVCache


def _host_ids(value: Any, name: str) -> torch.Tensor:
    if isinstance(value, Tensor):
        value = value.to_torch()
    elif not isinstance(value, torch.Tensor):
        value = torch.tensor(value)
    if value.dim() == 1:
        value = value[None]
    if value.dim() != 2 or value.dtype.is_floating_point:
        raise ValueError(f"generate: {name} must be integer [batch, seq] (or one [seq]), "
                         f"got {value.dtype} {tuple(value.shape)}")
    return value.long()


def _eos_ids(eos_token_id: int | Sequence[int] | None, config: Any) -> list[int]:
    if eos_token_id is None:
        eos_token_id = config.eos_token_id
    if eos_token_id is None:
        return []
    return [eos_token_id] if isinstance(eos_token_id, int) else list(eos_token_id)


def check_sampling(temperature: float, top_k: int | None, top_p: float | None,
                   max_new_tokens: int | None = None) -> None:
    """ValueError naming the argument when a sampling setting is out of range."""
    if not (isinstance(temperature, Real) and math.isfinite(temperature)
            and temperature >= 0):
        raise ValueError(f"generate: temperature must be a finite number >= 0 (0: greedy), "
                         f"got {temperature!r}")
    if top_k is not None and not (isinstance(top_k, Integral) and top_k >= 0):
        raise ValueError(f"generate: top_k must be an integer >= 0 (0 or None: off), got {top_k!r}")
    if top_p is not None and not (isinstance(top_p, Real) and 0 < top_p <= 1):
        raise ValueError(f"generate: top_p must be in (0, 1] (1.0 or None: off), got {top_p!r}")
    if max_new_tokens is not None and not (isinstance(max_new_tokens, Integral)
                                           and max_new_tokens >= 1):
        raise ValueError(f"generate: max_new_tokens must be an integer >= 1, got "
                         f"{max_new_tokens!r}")


def sample_next(logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None,
                top_p: float | None = None, generator: torch.Generator | None = None
                ) -> torch.Tensor:
    """Next token ids [B] from logits [B, V]; temperature 0 is greedy (argmax)."""
    check_sampling(temperature, top_k, top_p)
    if temperature == 0:
        return logits.argmax(dim=-1)
    logits = logits.float() / temperature
    if top_k is not None and top_k > 0:
        kth = torch.topk(logits, min(top_k, logits.shape[-1])).values[:, -1:]
        logits = logits.masked_fill(logits < kth, -torch.inf)
    if top_p is not None and top_p < 1.0:
        ascending, order = torch.sort(logits, dim=-1)
        cumulative = ascending.softmax(-1).cumsum(-1)
        drop = cumulative <= 1 - top_p
        drop[:, -1] = False  # always keep the most likely token
        logits = logits.masked_fill(drop.scatter(1, order, drop), -torch.inf)
    probs = logits.softmax(-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(1)


def _positions(mask: torch.Tensor) -> torch.Tensor:
    """Position of each token among its row's real tokens (padding gets 0)."""
    return (mask.cumsum(-1) - 1).clamp(min=0)


def generate(
    model: Any,
    input_ids: Any,
    max_new_tokens: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    eos_token_id: int | Sequence[int] | None = None,
    seed: int | None = None,
    attention_mask: Any = None,
    use_cache: bool = True,
) -> torch.Tensor:
    """Prompt + up to `max_new_tokens` new tokens, as a host int64 tensor [B, S + new].

    `temperature=0` decodes greedily. `eos_token_id` defaults to the model config's; a
    finished row is filled with the pad token (config pad_token_id, else the first eos)
    and generation stops when every row has finished. `seed` makes sampling repeatable.
    `use_cache=False` recomputes the whole sequence each step (a check of the cache).
    """
    check_sampling(temperature, top_k, top_p, max_new_tokens)
    ids = _host_ids(input_ids, "input_ids")
    mask = torch.ones_like(ids) if attention_mask is None else _host_ids(attention_mask,
                                                                          "attention_mask")
    if mask.shape != ids.shape:
        raise ValueError(f"generate: attention_mask {tuple(mask.shape)} must match input_ids "
                         f"{tuple(ids.shape)}")
    eos = _eos_ids(eos_token_id, model.config)
    pad = model.config.pad_token_id if model.config.pad_token_id is not None else (
        eos[0] if eos else 0)
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    padded = not bool(mask.all())
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            new = _decode(model, ids, mask, padded, max_new_tokens, use_cache, eos, pad,
                          lambda logits: sample_next(logits, temperature, top_k, top_p,
                                                     generator))
    finally:
        model.train(was_training)
    return torch.cat([ids, new], dim=1)


def _decode(model, ids, mask, padded, max_new_tokens, use_cache, eos, pad, choose):
    batch = ids.shape[0]
    eos_ids = torch.tensor(eos, dtype=torch.long)
    unfinished = torch.ones(batch, dtype=torch.bool)
    cache = KVCache(len(model.layers)) if use_cache else None
    tokens = ids
    step_ids, step_positions = ids, _positions(mask)
    generated = []
    for _ in range(max_new_tokens):
        out = model(step_ids, attention_mask=mask if padded else None,
                    position_ids=step_positions if padded else None, kv_cache=cache,
                    logits_to_keep=1)
        logits = out.logits.to_torch()[:, -1].float()
        next_ids = torch.where(unfinished, choose(logits), torch.tensor(pad))
        generated.append(next_ids)
        unfinished &= ~torch.isin(next_ids, eos_ids)
        if not unfinished.any():
            break
        mask = torch.cat([mask, torch.ones(batch, 1, dtype=mask.dtype)], dim=1)
        tokens = torch.cat([tokens, next_ids[:, None]], dim=1)
        if use_cache:
            step_ids, step_positions = next_ids[:, None], _positions(mask)[:, -1:]
        else:
            step_ids, step_positions = tokens, _positions(mask)
    if not generated:
        return ids.new_zeros(batch, 0)
    return torch.stack(generated, dim=1)


__all__ = ["check_sampling", "generate", "sample_next"]
