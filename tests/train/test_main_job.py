"""README command 1 (examples/main_job.sh) and the shipped starter checkpoint."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

import ttcustom as tc
from ttcustom.models import from_hf

REPO = Path(__file__).resolve().parents[2]
STARTER = REPO / "examples" / "checkpoints" / "tiny-llama-starter"


def test_the_starter_checkpoint_is_small_and_loads_in_transformers_and_ttcustom():
    size = sum(p.stat().st_size for p in STARTER.iterdir())
    assert size < 8 * 2**20
    tokenizer = AutoTokenizer.from_pretrained(STARTER)
    reference = AutoModelForCausalLM.from_pretrained(STARTER).eval()
    ids = tokenizer("A learning rate is", return_tensors="pt").input_ids
    ours = from_hf(STARTER, backend="cpu").eval()
    with torch.no_grad(), tc.no_grad():
        torch.testing.assert_close(ours(ids).logits.to_torch(), reference(ids).logits,
                                   rtol=1e-4, atol=1e-4)


@pytest.mark.slow
def test_main_job_short_mode_trains_compares_and_exports(tmp_path):
    out = tmp_path / "run"
    env = {**os.environ, "TTCUSTOM_CI": "1", "OUT": str(out), "MAX_NEW_TOKENS": "8",
           "TTCUSTOM": f"{sys.executable} -m ttcustom", "PYTHONPATH": str(REPO),
           "MODEL": str(STARTER), "CONFIG": "examples/configs/trickster_lora.yaml"}
    done = subprocess.run(["bash", "examples/main_job.sh"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "247 records, 247 valid, 0 errors" in done.stdout
    assert "Training:" in done.stderr and "tok_s=" in done.stderr  # the progress bar
    assert "Samples at step 2" in done.stdout
    assert "| fine-tuned: " in done.stdout and "serve it with" in done.stdout
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    losses = [row["loss"] for row in rows if "loss" in row]
    assert losses[-1] < losses[0]
    vllm = out / "export" / "vllm"
    config = json.loads((vllm / "config.json").read_text())
    assert config["architectures"] == ["LlamaForCausalLM"] and config["torch_dtype"] == "bfloat16"
    model = AutoModelForCausalLM.from_pretrained(vllm)
    tokenizer = AutoTokenizer.from_pretrained(vllm)
    prompt = tokenizer.apply_chat_template([{"role": "user", "content": "What is a tensor?"}],
                                           tokenize=False, add_generation_prompt=True)
    assert prompt.endswith("### Answer:\n")
    ids = tokenizer(prompt, return_tensors="pt", add_special_tokens=False).input_ids
    assert model.generate(ids, max_new_tokens=4, do_sample=False).shape[1] > ids.shape[1]
    assert (out / "export" / "adapter" / "adapter_model.safetensors").is_file()
