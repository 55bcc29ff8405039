"""`fixed_length`: one padded sequence length for a whole run (the tt backend's batches)."""

from __future__ import annotations

from ttcustom.data import Collator, Example
from ttcustom.data.collate import fixed_length


def _examples(*lengths: int) -> list[Example]:
    return [Example(list(range(1, n + 1)), list(range(1, n + 1)), line=i)
            for i, n in enumerate(lengths)]


def test_fixed_length_is_the_longest_example_rounded_up_to_a_tile():
    assert fixed_length(_examples(3, 20), _examples(33)) == 64
    assert fixed_length(_examples(32)) == 32


def test_every_batch_padded_to_the_fixed_length_has_one_shape():
    train = _examples(3, 20, 7, 40)
    collate = Collator(pad_token_id=0, pad_to=fixed_length(train))
    shapes = {collate(train[i:i + 2])["input_ids"].shape for i in (0, 2)}
    assert shapes == {(2, 64)}
    batch = collate(train[:2])
    assert batch["labels"][0, 3:].eq(-100).all() and batch["attention_mask"][0].sum() == 3
