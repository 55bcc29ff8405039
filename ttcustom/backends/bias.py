"""`attention_bias`: the one place an attention mask becomes an additive bias.

Masks travel as keep masks (1/True = may attend, 0/False = may not) up to the attention
that consumes them; scores then take `bias`, 0 where kept and a large negative number
elsewhere. Written over backend primitives, so the models (through
`ttcustom.functional.attention_bias`) and the backends' own attention (tt's causal
constants) build the bias the same way.
"""

from __future__ import annotations

import torch

from ttcustom.backends.base import Array, Backend


def attention_bias(backend: Backend, keep: Array, dtype: torch.dtype,
                   masked: float | None = None) -> Array:
    """`keep` (bool, int or float 0/1, any shape) as a `dtype` bias: 0 where kept, `masked`
    (default: the lowest finite `dtype` value, as transformers uses) elsewhere."""
    masked = torch.finfo(dtype).min if masked is None else masked
    return backend.mul(backend.sub(backend.cast(keep, dtype), 1.0), -masked)


__all__ = ["attention_bias"]
