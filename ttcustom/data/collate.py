"""Examples -> a `Batch` of host tensors: the one form a batch has on its way to a model.

- Unpacked examples are right-padded (to the longest in the batch, or to `pad_to`: the
  recipe pads every batch to one `fixed_length` on the tt backend, whose tiles are 32
  tokens); `attention_mask` is [B, S] with 1 on real tokens, labels are IGNORE_INDEX on
  padding.
- Packed examples get a [B, 1, S, S] bool mask (True = may attend): causal inside each
  example, nothing across examples or into padding.
- A batch in which nothing is masked (no padding, nothing packed) has no mask
  (`attention_mask` None): plain causal attention, the same for every consumer.

Labels are not shifted: the model predicts `labels[:, t + 1]` at position t and shifts
them itself, as transformers' causal-LM heads do.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import torch

from ttcustom.data.encode import IGNORE_INDEX
from ttcustom.data.packing import PackedExample
from ttcustom.data.validate import Example


@dataclass(eq=False)
class Batch(Mapping):
    """One batch of host tensors; `batch.input_ids` or, like a dict, `batch["input_ids"]`.

    `input_ids`, `labels` [B, S] int64 (labels IGNORE_INDEX where the loss is masked);
    `attention_mask` [B, S] (1 = real token), [B, 1, S, S] bool (packed rows) or None
    (nothing masked); `num_tokens` real tokens (for tokens/s); `num_targets` labels the
    model's next-token loss averages over (a batch's weight in a mean over batches).
    """

    input_ids: torch.Tensor
    labels: torch.Tensor
    attention_mask: torch.Tensor | None
    num_tokens: int
    num_targets: int

    def __getitem__(self, key: str) -> Any:
        if key not in self._keys():
            raise KeyError(key)
        return getattr(self, key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys())

    def __len__(self) -> int:
        return len(self._keys())

    @classmethod
    def _keys(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))


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
    """Pads with `pad_token_id`; every batch at least `pad_to` tokens wide when given."""

    pad_token_id: int = 0
    pad_to: int | None = None

    @classmethod
    def for_tokenizer(cls, tokenizer: Any, pad_to: int | None = None) -> Collator:
        """Padding with the tokenizer's pad token (else its EOS, else 0; none: 0)."""
        candidates = () if tokenizer is None else (tokenizer.pad_token_id,
                                                   tokenizer.eos_token_id)
        pad = next((c for c in candidates if c is not None), 0)
        return cls(pad, pad_to)

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
        elif bool((lengths < width).any()):
            mask = (torch.arange(width)[None, :] < lengths[:, None]).long()
        else:
            mask = None
        targets = int((labels[:, 1:] != IGNORE_INDEX).sum())
        return Batch(input_ids, labels, mask, int(lengths.sum()), targets)


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
