"""Packed rows give every example the logits it would get alone (HF Llama as reference)."""

import torch
from transformers import LlamaConfig, LlamaForCausalLM

from ttcustom.data import IGNORE_INDEX, Collator, Example, pack_examples


def examples(*lengths):
    out, start = [], 1
    for n in lengths:
        ids = list(range(start, start + n))
        out.append(Example(ids, ids, line=len(out) + 1))
        start += n
    return out


def test_greedy_packing_keeps_order_and_fills_rows():
    rows = pack_examples(examples(3, 4, 2, 6), max_length=8)
    assert [row.segments for row in rows] == [[3, 4], [2, 6]]
    assert rows[0].input_ids == list(range(1, 8))


def test_first_label_of_a_follower_is_masked():
    row = pack_examples(examples(3, 4), max_length=8)[0]
    assert row.labels == [1, 2, 3, IGNORE_INDEX, 5, 6, 7]


def test_packed_mask_is_block_diagonal_causal():
    batch = Collator(pad_token_id=0, pad_to=6)(pack_examples(examples(2, 3), max_length=6))
    mask = batch["attention_mask"][0, 0].int()
    expected = torch.tensor([[1, 0, 0, 0, 0, 0],
                             [1, 1, 0, 0, 0, 0],
                             [0, 0, 1, 0, 0, 0],
                             [0, 0, 1, 1, 0, 0],
                             [0, 0, 1, 1, 1, 0],
                             [0, 0, 0, 0, 0, 1]])
    assert torch.equal(mask, expected)
    assert batch["labels"][0, 5] == IGNORE_INDEX


def test_packed_logits_equal_separate_logits_in_hf_llama():
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2)
    model = LlamaForCausalLM(config).eval()
    parts = [Example(torch.randint(0, 64, (n,)).tolist(), [], 0) for n in (5, 7)]
    for part in parts:
        part.labels = list(part.input_ids)
    batch = Collator(pad_to=14)(pack_examples(parts, max_length=14))
    with torch.no_grad():
        packed = model(batch["input_ids"], attention_mask=batch["attention_mask"]).logits[0]
        alone = [model(torch.tensor([p.input_ids])).logits[0] for p in parts]
    torch.testing.assert_close(packed[:5], alone[0], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(packed[5:12], alone[1], rtol=1e-5, atol=1e-5)


def test_padding_collation_masks_padding():
    batch = Collator(pad_token_id=9)(examples(2, 3))
    assert batch["input_ids"].tolist() == [[1, 2, 9], [3, 4, 5]]
    assert batch["attention_mask"].tolist() == [[1, 1, 0], [1, 1, 1]]
    assert batch["labels"].tolist() == [[1, 2, IGNORE_INDEX], [3, 4, 5]]
    assert batch["num_tokens"] == 5


def test_packed_rows_train_our_llama_like_separate_sequences():
    """The packed mask reaches ttcustom's models: packed logits equal each part alone."""
    from ttcustom.models import from_hf

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2)
    model = from_hf(LlamaForCausalLM(config).eval())
    parts = [Example(torch.randint(0, 64, (n,)).tolist(), [], 0) for n in (5, 7)]
    for part in parts:
        part.labels = list(part.input_ids)
    batch = Collator(pad_to=14)(pack_examples(parts, max_length=14))
    out = model(batch["input_ids"], attention_mask=batch["attention_mask"], labels=batch["labels"])
    packed = out.logits.to_torch()[0]
    alone = [model(torch.tensor([p.input_ids])).logits.to_torch()[0] for p in parts]
    torch.testing.assert_close(packed[:5], alone[0], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(packed[5:12], alone[1], rtol=1e-5, atol=1e-5)
    out.loss.backward()
    assert torch.isfinite(out.loss.to_torch())
