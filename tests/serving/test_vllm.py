"""vLLM as a client of the main job's exports; run by .ci/vllm_suite.sh in its own venv,
after examples/main_job.sh and tests/serving/make_reference.py."""

import os
from pathlib import Path

import pytest
import torch

vllm = pytest.importorskip("vllm", reason="vLLM is not installed; run .ci/vllm_suite.sh")
transformers = pytest.importorskip("transformers")

RUN = Path(os.environ.get("TTCUSTOM_VLLM_RUN", "output"))
EXPORT = RUN / "export"
MAX_TOKENS = 24
# on the CPU backend the fraction of the host's memory vLLM reserves (its default, 0.92,
# fails on a shared machine); a small model needs little KV cache
ENGINE = dict(dtype="float32", max_model_len=512, enforce_eager=True,
              gpu_memory_utilization=float(os.environ.get("TTCUSTOM_VLLM_MEMORY", "0.15")))
pytestmark = pytest.mark.skipif(not (EXPORT / "reference_logits.pt").is_file(),
                                reason=f"no main job exports in {EXPORT}: run "
                                "examples/main_job.sh, then .ci/vllm_suite.sh")


def prompts():
    return [r["text"] for r in torch.load(EXPORT / "reference_logits.pt")["prompts"]]


def until_stop(tokens, stop_ids):
    """The tokens up to and without the first stop token (both clients stop there)."""
    for i, token in enumerate(tokens):
        if token in stop_ids:
            return tokens[:i]
    return tokens


def stop_ids(directory):
    eos = transformers.GenerationConfig.from_pretrained(directory).eos_token_id
    return set(eos if isinstance(eos, list) else [eos])


def hf_greedy(model, tokenizer, texts, stops):
    out = []
    for text in texts:
        ids = tokenizer(text, return_tensors="pt").input_ids  # what vLLM does to a text
        with torch.no_grad():
            tokens = model.generate(ids, max_new_tokens=MAX_TOKENS, do_sample=False)
        out.append(until_stop(tokens[0, ids.shape[1]:].tolist(), stops))
    return out


def vllm_greedy(llm, texts, stops, lora=None):
    params = vllm.SamplingParams(temperature=0.0, max_tokens=MAX_TOKENS)
    return [until_stop(list(o.outputs[0].token_ids), stops)
            for o in llm.generate(texts, params, lora_request=lora)]


def test_vllm_serves_the_merged_export_token_identically_to_transformers():
    directory = str(EXPORT / "vllm")
    tokenizer = transformers.AutoTokenizer.from_pretrained(directory)
    model = transformers.AutoModelForCausalLM.from_pretrained(directory, dtype=torch.float32)
    stops = stop_ids(directory)
    expected = hf_greedy(model.eval(), tokenizer, prompts(), stops)
    assert any(expected)  # something to compare
    llm = vllm.LLM(model=directory, **ENGINE)
    assert vllm_greedy(llm, prompts(), stops) == expected


def test_vllm_serves_base_plus_adapter_token_identically_to_peft():
    from peft import PeftModel
    from vllm.lora.request import LoRARequest

    base, adapter = str(EXPORT / "base"), str(EXPORT / "adapter")
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(EXPORT / "vllm"))
    model = PeftModel.from_pretrained(
        transformers.AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32), adapter)
    stops = stop_ids(EXPORT / "vllm")
    expected = hf_greedy(model.eval(), tokenizer, prompts(), stops)
    assert any(expected)
    llm = vllm.LLM(model=base, tokenizer=str(EXPORT / "vllm"), enable_lora=True,
                   max_lora_rank=16, **ENGINE)
    lora = LoRARequest("trickster", 1, adapter)
    assert vllm_greedy(llm, prompts(), stops, lora) == expected

