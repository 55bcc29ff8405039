"""`Collator` and `Batch`: the host form of a batch; `fixed_length` for the tt backend."""

from __future__ import annotations

import torch
from transformers.loss.loss_utils import ForCausalLMLoss

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


def test_a_batch_reads_like_a_dict_of_its_fields():
    batch = Collator(pad_token_id=0)(_examples(2, 3))
    assert batch["input_ids"] is batch.input_ids
    assert list(batch) == ["input_ids", "labels", "attention_mask", "num_tokens", "num_targets"]
    assert dict(batch)["labels"] is batch.labels


def test_a_batch_without_padding_has_no_mask():
    """Nothing masked: no mask at all (plain causal attention), as generation passes none."""
    assert Collator(pad_token_id=0)(_examples(3, 3)).attention_mask is None
    assert Collator(pad_token_id=0, pad_to=4)(_examples(3, 3)).attention_mask is not None


def test_num_targets_counts_the_labels_the_shifted_loss_averages_over():
    """transformers' causal-LM loss (labels shifted inside, -100 ignored) averages over
    the labels after each row's first that are not IGNORE_INDEX."""
    examples = [Example([1, 2, 3, 4], [-100, -100, 3, 4]), Example([5, 6], [5, 6])]
    batch = Collator(pad_token_id=0)(examples)
    logits = torch.randn(2, 4, 8)
    weighted = ForCausalLMLoss(logits, batch.labels, vocab_size=8,
                               num_items_in_batch=torch.tensor(batch.num_targets))
    torch.testing.assert_close(weighted, ForCausalLMLoss(logits, batch.labels, vocab_size=8))
