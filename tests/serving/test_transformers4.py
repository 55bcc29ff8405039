"""transformers 4.x (what vLLM releases and Tenstorrent's vLLM fork pin) reads the main job's
export as transformers 5 does: run by .ci/vllm_suite.sh in a venv with transformers 4.57."""

import os
from pathlib import Path

import pytest
import torch

transformers = pytest.importorskip("transformers")

EXPORT = Path(os.environ.get("TTCUSTOM_VLLM_RUN", "output")) / "export"
pytestmark = [
    pytest.mark.skipif(not transformers.__version__.startswith("4."),
                       reason=f"checks transformers 4.x; this is {transformers.__version__} "
                       "(.ci/vllm_suite.sh runs it in a transformers 4.57 venv)"),
    pytest.mark.skipif(not (EXPORT / "reference_logits.pt").is_file(),
                       reason=f"no main job exports in {EXPORT}: run examples/main_job.sh, "
                       "then .ci/vllm_suite.sh"),
]


def test_transformers_4_reads_the_exports_config_and_tokenizer_as_transformers_5():
    directory = EXPORT / "vllm"
    saved = torch.load(EXPORT / "reference_logits.pt")
    config = transformers.AutoConfig.from_pretrained(directory)
    assert config.rope_theta == saved["rope_theta"]  # not the default 10000
    tokenizer = transformers.AutoTokenizer.from_pretrained(directory)
    model = transformers.AutoModelForCausalLM.from_pretrained(directory, torch_dtype=torch.float32)
    for reference in saved["prompts"]:
        ids = tokenizer(reference["text"], add_special_tokens=False).input_ids
        assert ids == reference["ids"]
        with torch.no_grad():
            logits = model.eval()(torch.tensor([ids])).logits[0]
        torch.testing.assert_close(logits, reference["logits"], rtol=1e-4, atol=1e-4)
