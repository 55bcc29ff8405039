"""A run made from Python (`Trainer(...)` on a loaded model) exports like a recipe run."""

from pathlib import Path

import pytest
import torch
import yaml

from tests.train.tiny import tiny_config
from ttcustom import optim
from ttcustom.cli import main
from ttcustom.data import Example, load_tokenizer
from ttcustom.lora import apply_lora
from ttcustom.models import from_hf
from ttcustom.train import Trainer

STARTER = Path(__file__).parents[2] / "examples" / "checkpoints" / "tiny-llama-starter"


def examples(tokenizer, n=8):
    rows = [tokenizer(f"the number {i} follows {i - 1}")["input_ids"][:12] for i in range(n)]
    return [Example(row, list(row), line=i + 1) for i, row in enumerate(rows)]


def python_run(output_dir, lora=False, pass_tokenizer=True):
    tokenizer = load_tokenizer(STARTER)
    model = from_hf(STARTER)
    if lora:
        apply_lora(model, r=4, alpha=8, target_modules=["q_proj", "o_proj"])
    data = examples(tokenizer)
    trainable = [p for p in model.parameters() if p.requires_grad]
    Trainer(model, optim.AdamW(trainable, lr=1e-2), data, None,
            tiny_config(output_dir, max_steps=2, checkpoint_frequency=2),
            tokenizer=tokenizer if pass_tokenizer else None).train()
    return model


def test_a_python_api_run_records_the_model_it_loaded(tmp_path):
    python_run(tmp_path / "run")
    recorded = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())["model"]["path"]
    assert Path(recorded) == STARTER.resolve()


@pytest.mark.parametrize("lora", [False, True], ids=["full", "lora"])
def test_a_python_api_run_exports_the_trained_model(tmp_path, lora):
    trained = python_run(tmp_path / "run", lora).eval()
    assert main(["export", "--checkpoint", str(tmp_path / "run"), "--to", "hf",
                 str(tmp_path / "out")]) == 0
    exported = from_hf(tmp_path / "out").eval()
    ids = torch.tensor([load_tokenizer(tmp_path / "out")("the number 3")["input_ids"]])
    torch.testing.assert_close(exported(ids).logits.to_torch(), trained(ids).logits.to_torch())
    assert not torch.equal(from_hf(STARTER)(ids).logits.to_torch(), trained(ids).logits.to_torch())


def test_a_python_api_lora_run_records_its_adapter(tmp_path):
    python_run(tmp_path / "run", lora=True)
    recorded = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())["lora"]
    assert (recorded["r"], recorded["alpha"], recorded["target_modules"]) == \
        (4, 8.0, ["o_proj", "q_proj"])


def test_a_run_given_no_tokenizer_exports_with_its_models_own(tmp_path):
    python_run(tmp_path / "run", pass_tokenizer=False)
    assert not (tmp_path / "run" / "tokenizer").exists()
    assert main(["export", "--checkpoint", str(tmp_path / "run"), "--to", "hf",
                 str(tmp_path / "out")]) == 0
    text = "the number 3 follows 2"
    assert load_tokenizer(tmp_path / "out")(text) == load_tokenizer(STARTER)(text)
