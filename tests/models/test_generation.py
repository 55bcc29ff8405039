"""generate(): greedy output token-identical to transformers; cache and no-cache agree."""

import pytest
import torch

from tests.models.hf_helpers import hf_model
from ttcustom.generation import generate, sample_next
from ttcustom.models import from_hf

NEW_TOKENS = 12


def _left_padded_prompts():
    ids = torch.tensor([[0, 0, 0, 17, 5, 33, 60], [12, 7, 81, 4, 9, 45, 22]])
    mask = torch.tensor([[0, 0, 0, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1, 1]])
    return ids, mask


@pytest.mark.parametrize("arch", ["llama", "llama3_rope", "qwen2", "qwen3", "gpt2"])
def test_greedy_matches_transformers_for_a_left_padded_batch(arch):
    reference = hf_model(arch)
    model = from_hf(reference)
    ids, mask = _left_padded_prompts()
    expected = reference.generate(ids, attention_mask=mask, max_new_tokens=NEW_TOKENS,
                                  do_sample=False, eos_token_id=None,
                                  pad_token_id=0)
    out = generate(model, ids, NEW_TOKENS, temperature=0, attention_mask=mask, eos_token_id=[])
    assert out.tolist() == expected.tolist()


def test_greedy_single_prompt_matches_transformers():
    reference = hf_model("llama")
    prompt = torch.tensor([[3, 14, 15, 92, 65]])
    expected = reference.generate(prompt, max_new_tokens=NEW_TOKENS, do_sample=False,
                                  eos_token_id=None, pad_token_id=0)
    assert from_hf(reference).generate(prompt, NEW_TOKENS, temperature=0,
                                       eos_token_id=[]).tolist() == expected.tolist()


@pytest.mark.parametrize("sampling", [dict(temperature=0),
                                      dict(temperature=0.8, top_k=20, top_p=0.9, seed=3)])
def test_kv_cache_and_full_recompute_agree(sampling):
    model = from_hf(hf_model("qwen3"))
    ids, mask = _left_padded_prompts()
    cached = generate(model, ids, NEW_TOKENS, attention_mask=mask, eos_token_id=[], **sampling)
    full = generate(model, ids, NEW_TOKENS, attention_mask=mask, eos_token_id=[],
                    use_cache=False, **sampling)
    assert cached.tolist() == full.tolist()


def test_finished_rows_are_padded_and_generation_stops_when_all_finish():
    model = from_hf(hf_model("llama"))
    ids, mask = _left_padded_prompts()
    greedy = generate(model, ids, NEW_TOKENS, temperature=0, attention_mask=mask, eos_token_id=[])
    stop = int(greedy[0, ids.shape[1] + 1])  # row 0's second new token
    out = generate(model, ids, NEW_TOKENS, temperature=0, attention_mask=mask, eos_token_id=stop)
    row0 = out[0, ids.shape[1]:].tolist()
    first = row0.index(stop)
    assert row0[first + 1:] == [stop] * (len(row0) - first - 1)  # pad = first eos
    assert out.shape[1] <= greedy.shape[1]


def test_seeded_sampling_repeats_and_top_k_one_is_greedy():
    model = from_hf(hf_model("llama"))
    prompt = torch.tensor([[3, 14, 15, 92, 65]])
    a = generate(model, prompt, NEW_TOKENS, temperature=1.0, seed=7, eos_token_id=[])
    b = generate(model, prompt, NEW_TOKENS, temperature=1.0, seed=7, eos_token_id=[])
    assert a.tolist() == b.tolist()
    greedy = generate(model, prompt, NEW_TOKENS, temperature=0, eos_token_id=[])
    top1 = generate(model, prompt, NEW_TOKENS, temperature=1.5, top_k=1, seed=1, eos_token_id=[])
    assert top1.tolist() == greedy.tolist()


def test_top_p_keeps_the_smallest_set_reaching_p():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    drawn = {int(sample_next(logits, 1.0, top_p=0.7, generator=torch.Generator().manual_seed(s)))
             for s in range(200)}
    assert drawn == {0, 1}


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
def test_a_chunk_after_cached_tokens_gets_the_logits_of_the_whole_forward(arch):
    """Several new tokens after a cache (past > 0, causality folded into the bias with
    the padding mask) score as transformers scores them in one forward."""
    from ttcustom.nn.transformer import KVCache

    reference = hf_model(arch)
    model = from_hf(reference)
    ids, mask = _left_padded_prompts()
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    with torch.no_grad():
        expected = reference(ids, attention_mask=mask, position_ids=positions).logits
    cache = KVCache(len(model.layers))
    model(ids[:, :4], attention_mask=mask[:, :4], position_ids=positions[:, :4], kv_cache=cache)
    chunk = model(ids[:, 4:], attention_mask=mask, position_ids=positions[:, 4:],
                  kv_cache=cache).logits.to_torch()
    torch.testing.assert_close(chunk, expected[:, 4:], rtol=1e-4, atol=1e-4)
