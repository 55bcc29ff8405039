"""Pack short examples into full sequences without letting them see each other.

A packed row keeps the length of each example it holds (`segments`). The collator
turns that into a block-diagonal causal attention mask, so a token attends only to
earlier tokens of its own example. With rotary positions attention depends only on
relative positions, so a packed example gets the same logits as it would alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ttcustom.data.encode import IGNORE_INDEX
from ttcustom.data.validate import Example


@dataclass
class PackedExample(Example):
    segments: list[int] = field(default_factory=list)


def pack_examples(examples: list[Example], max_length: int) -> list[PackedExample]:
    """Greedy, order-preserving packing: start a new row when the next example does not fit.

    The first label of every example after the first in a row is masked, so no example
    is trained to follow the end of another.
    """
    rows: list[PackedExample] = []
    current = PackedExample([], [])
    for example in examples:
        n = len(example.input_ids)
        if n > max_length:
            raise ValueError(f"example from line {example.line} has {n} tokens > max_length "
                             f"{max_length}; validate or truncate before packing")
        if current.segments and len(current.input_ids) + n > max_length:
            rows.append(current)
            current = PackedExample([], [])
        labels = list(example.labels)
        if current.segments:
            labels[0] = IGNORE_INDEX
        current.input_ids += example.input_ids
        current.labels += labels
        current.segments.append(n)
    if current.segments:
        rows.append(current)
    return rows
