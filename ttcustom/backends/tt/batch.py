"""Tile-aligning token batches on the host, before the (once per step) upload.

ttnn's fused attention and embedding-backward kernels work on whole 32-token tiles.
Padding the sequence at the boundary keeps every step on those kernels; the padding
is masked where it would change results: padded keys get attention_mask 0 (softmax
ignores them) and padded tokens get label -100 (the loss ignores them).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F

#: the value each batch field is padded with
PAD_VALUES = {"input_ids": None, "labels": -100, "attention_mask": 0}


def pad_batch_to_tile(batch: Mapping[str, torch.Tensor], pad_token_id: int = 0,
                      multiple: int = 32) -> dict[str, torch.Tensor]:
    """`batch` with its [B, S] fields right-padded along S to a multiple of `multiple`.

    input_ids get `pad_token_id`, labels -100, attention_mask 0 (created as ones over
    the real tokens if absent); other fields pass through unchanged.
    """
    seq = batch["input_ids"].shape[-1]
    extra = -seq % multiple
    out = dict(batch)
    if "attention_mask" not in out:
        out["attention_mask"] = torch.ones_like(batch["input_ids"])
    if extra == 0:
        return out
    for key, value in PAD_VALUES.items():
        if key in out:
            fill = pad_token_id if value is None else value
            out[key] = F.pad(out[key], (0, extra), value=fill)
    return out
