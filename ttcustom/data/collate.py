"""Examples -> a batch of host tensors: input_ids, labels, attention_mask (all int64/bool).

- Unpacked examples are right-padded (to the longest in the batch, or to `pad_to`: the
  tt backend pads every batch to one `fixed_length`);
  `attention_mask` is [B, S] with 1 on real tokens, labels are IGNORE_INDEX on padding.
- Packed examples get a [B, 1, S, S] bool mask (True = may attend): causal inside each
  example, nothing across examples or into padding.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ttcustom.data.encode import IGNORE_INDEX
from ttcustom.data.packing import PackedExample
from ttcustom.data.validate import Example

Batch = dict[str, torch.Tensor]


def fixed_length(*example_sets: Sequence[Example], multiple: int = 32) -> int:
    """One sequence length for every batch: the longest example rounded up to `multiple`.

    The tt backend compiles a device program per tensor shape; padding each batch to this
    length (`Collator(pad_to=...)`) instead of its own longest example keeps the shapes,
    and so the compiled programs, the same for the whole run.
    """
    longest = max(len(ex.input_ids) for examples in example_sets for ex in examples)
    return -(-longest // multiple) * multiple


@dataclass
class Collator:
    pad_token_id: int = 0
    pad_to: int | None = None

    def __call__(self, examples: list[Example]) -> Batch:
        longest = max(len(ex.input_ids) for ex in examples)
        width = max(longest, self.pad_to or 0)
        size = (len(examples), width)
        input_ids = torch.full(size, self.pad_token_id, dtype=torch.long)
        labels = torch.full(size, IGNORE_INDEX, dtype=torch.long)
        lengths = torch.tensor([len(ex.input_ids) for ex in examples])
        for row, ex in enumerate(examples):
            input_ids[row, : len(ex.input_ids)] = torch.tensor(ex.input_ids)
            labels[row, : len(ex.labels)] = torch.tensor(ex.labels)
        if all(isinstance(ex, PackedExample) for ex in examples):
            mask = packed_attention_mask([ex.segments for ex in examples], width)
        else:
            mask = (torch.arange(width)[None, :] < lengths[:, None]).long()
        return {"input_ids": input_ids, "labels": labels, "attention_mask": mask,
                "num_tokens": lengths.sum()}


def packed_attention_mask(segments: list[list[int]], width: int) -> torch.Tensor:
    """[B, 1, S, S] bool: query i may attend key j iff same example and j <= i."""
    ids = torch.full((len(segments), width), -1, dtype=torch.long)
    for row, lengths in enumerate(segments):
        ids[row, : sum(lengths)] = torch.repeat_interleave(
            torch.arange(len(lengths)), torch.tensor(lengths))
    same = (ids[:, :, None] == ids[:, None, :]) & (ids[:, :, None] >= 0)
    causal = torch.ones(width, width, dtype=torch.bool).tril()
    mask = same & causal
    # padding queries attend to themselves so their softmax stays finite
    mask |= torch.eye(width, dtype=torch.bool)
    return mask[:, None]
