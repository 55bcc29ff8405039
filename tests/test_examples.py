"""Every script in examples/ runs to completion and shows what its lesson promises.

Each example runs in a fresh process (as a user runs it), from a temporary directory so
its outputs land there, with TTCUSTOM_EXAMPLE_FAST=1 to shorten long runs.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def run_example(name: str, cwd: Path, *args: str, timeout: int = 600) -> str:
    """Run examples/`name` like a user would; return its stdout, failing with its output."""
    env = {**os.environ, "TTCUSTOM_EXAMPLE_FAST": "1", "TTCUSTOM_BACKEND": "cpu",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, str(EXAMPLES / name), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{name} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def _number(pattern: str, text: str) -> float:
    match = re.search(pattern, text)
    assert match, f"{pattern!r} not in output:\n{text}"
    return float(match.group(1))


def check_ct4_finetune(out: str, cwd: Path) -> None:
    baseline, final = map(float, re.search(r"validation loss (\d+\.\d+) -> (\d+\.\d+)", out).groups())
    assert final < baseline
    assert out.count("  base:       ") == 2 and out.count("  fine-tuned: ") == 2
    run = cwd / "output" / "ct4"
    adapter = json.loads((run / "final_adapter" / "adapter_config.json").read_text())
    assert adapter["r"] == 16 and "gate_proj" in adapter["target_modules"]
    assert (run / "final_model" / "config.json").is_file()


def check_ct5_ddp(out: str, cwd: Path) -> None:
    before, after = re.search(r"before wrapping: (.*); after: (.*)", out).groups()
    assert len(set(before.split(", "))) == 2 and len(set(after.split(", "))) == 1
    # Each rank reads its own share of the data.
    shares = re.findall(r"rank (\d) of 2: its examples start with indices (\[.*\])", out)
    assert sorted(r for r, _ in shares) == ["0", "1"] and shares[0][1] != shares[1][1]
    assert "replicas identical after 12 steps: True" in out
    first, final = map(float, re.search(r"loss (\d+\.\d+) -> (\d+\.\d+)", out).groups())
    assert final < first - 1.0


def check_ct6_tracking(out: str, cwd: Path) -> None:
    runs = [cwd / "output" / "ct6" / name for name in ("lr_0.003", "lr_0.0003")]
    for run in runs:
        records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        assert any("val_loss" in r for r in records) and (run / "training_curves.png").is_file()
    if importlib.util.find_spec("tensorboard"):
        assert all(list((run / "tensorboard").glob("events.out.tfevents.*")) for run in runs)
        assert "-> lr 0.003 ends lower" in out  # 3e-3 beats 3e-4 on a 20-step from-scratch run
    if importlib.util.find_spec("wandb"):
        for run in runs:
            offline = list((run / "wandb").glob("offline-run-*/run-*.wandb"))
            assert offline, f"no offline wandb run in {run}"
            assert f"wandb sync {offline[0].parent.relative_to(cwd)}" in out


def check_ct7_transformer(out: str, cwd: Path) -> None:
    # An untrained model guesses uniformly over 256 bytes; training halves the loss.
    assert abs(_number(r"initial loss (\d+\.\d+)", out) - math.log(256)) < 0.3
    first, final = map(float, re.search(r"loss (\d+\.\d+) -> (\d+\.\d+)", out).groups())
    assert final < first / 2
    assert re.search(r"logits \[B, S, V\]\s+\[8, 64, 256\]", out)
    assert re.search(r"total\s+820,352", out)  # the count docs/lessons/ct7-architecture.md quotes


def check_ct2_dataset(out: str, cwd: Path) -> None:
    assert re.search(r"my_dataset\.jsonl: format prompt_response .* 0 errors", out)
    for line, code in [(2, "invalid_json"), (3, "missing_field"), (4, "empty_field"),
                       (5, "duplicate")]:
        assert re.search(rf"broken\.jsonl:(line )?{line}: error: {code}:", out), code
    # The loss skips the prompt template and trains on the response only.
    assert "masked : '### Question:\\nWhat is a neural network?\\n\\n### Answer:\\n'" in out
    assert re.search(r"trickster_train\.jsonl: format prompt_response .*247.* 0 errors", out)
    assert (cwd / "output" / "ct2" / "my_dataset.jsonl").is_file()


def check_ct3_config(out: str, cwd: Path) -> None:
    assert "training_n150.yaml: valid" in out
    assert "validation_frequency = 50" in out and "checkpoint_frequency = 100" in out
    for line, problem in [(2, "training_config.batch_size"), (3, "did you mean 'learning_rate'"),
                          (5, "training_config.scheduler"), (7, "enable_ddp is false")]:
        assert re.search(rf"broken\.yaml:{line}: .*{re.escape(problem)}", out), problem
    assert "N300: 8 per device x 2 device(s) x 2 accumulation steps = 32 examples" in out
    assert (cwd / "output" / "ct3" / "resolved.yaml").is_file()


def check_ct8_from_scratch(out: str, cwd: Path) -> None:
    vocab = int(_number(r"uniform guess: ln (\d+)", out))
    baseline, final = map(float, re.search(r"val loss (\d+\.\d+) -> (\d+\.\d+)", out).groups())
    assert abs(baseline - math.log(vocab)) < 0.3 and final < baseline - 0.5
    run = cwd / "output" / "ct8"
    transformers = pytest.importorskip("transformers")
    tokenizer = transformers.AutoTokenizer.from_pretrained(run / "final_model")
    assert len(tokenizer) == vocab  # the BPE tokenizer trained by the run ships with the model
    model = transformers.AutoModelForCausalLM.from_pretrained(run / "final_model")
    ids = tokenizer("The model", return_tensors="pt")["input_ids"]
    assert model(ids).logits.shape[-1] == vocab


def check_export_vllm(out: str, cwd: Path) -> None:
    for kind in ("merged checkpoint", "base + PEFT adapter"):
        assert float(_number(rf"{re.escape(kind)}: max \|logit difference\| vs ttcustom = (\S+)",
                             out)) < 1e-3
    export = cwd / "output" / "export"
    adapter = json.loads((export / "adapter" / "adapter_config.json").read_text())
    assert adapter["peft_type"] == "LORA" and set(adapter["target_modules"]) == {"q_proj", "v_proj"}
    # The trained adapter changed the model: merged weights differ from the base's.
    from safetensors.torch import load_file

    base = load_file(export / "base" / "model.safetensors")
    merged = load_file(export / "merged" / "model.safetensors")
    changed = [k for k in base if not torch.equal(base[k], merged[k])]
    assert changed and all(k.endswith(("q_proj.weight", "v_proj.weight")) for k in changed)
    assert "vllm serve output/export/merged" in out


def check_plain_loop(out: str, cwd: Path) -> None:
    initial, final = map(float, re.search(r"val loss (\d+\.\d+) -> (\d+\.\d+)", out).groups())
    assert abs(initial - math.log(256)) < 0.3 and final < initial - 1.0
    saved = cwd / "output" / "plain_loop" / "model"
    transformers = pytest.importorskip("transformers")
    model = transformers.AutoModelForCausalLM.from_pretrained(saved)
    tokenizer = transformers.AutoTokenizer.from_pretrained(saved)
    ids = tokenizer("### Question:\nWhat is a loss?", return_tensors="pt")["input_ids"]
    assert model(ids).logits.shape == (1, ids.shape[1], 256)


CHECKS: dict[str, Callable[[str, Path], None]] = {
    "ct2_dataset.py": check_ct2_dataset,
    "ct3_config.py": check_ct3_config,
    "ct4_finetune.py": check_ct4_finetune,
    "ct5_ddp.py": check_ct5_ddp,
    "ct6_tracking.py": check_ct6_tracking,
    "ct7_transformer.py": check_ct7_transformer,
    "ct8_from_scratch.py": check_ct8_from_scratch,
    "export_vllm.py": check_export_vllm,
    "plain_loop.py": check_plain_loop,
}


# Examples that take more than ~20 s on a busy 2-core machine (still run in CI).
SLOW = {"ct4_finetune.py", "ct5_ddp.py", "ct6_tracking.py", "ct8_from_scratch.py", "export_vllm.py",
        "plain_loop.py"}


# Tools in examples/ that are not lesson steps, and why the suite does not run them.
NOT_RUN = {"make_starter_checkpoint.py": "regenerates the shipped starter checkpoint "
                                         "(minutes of pretraining)"}


def test_every_example_has_a_check():
    scripts = {path.name for path in EXAMPLES.glob("*.py")} - set(NOT_RUN)
    assert scripts == set(CHECKS), "add a check in tests/test_examples.py for each example"


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n
                                  for n in sorted(CHECKS)])
def test_example_runs(name, tmp_path):
    CHECKS[name](run_example(name, tmp_path), tmp_path)


def test_ct8_model_has_10_to_20_million_parameters():
    """The lesson's model (not the shortened one the test run trains) is CT-8's size."""
    from ttcustom.data import byte_tokenizer
    from ttcustom.train.config import load_config
    from ttcustom.train.recipe import build_model

    spec = importlib.util.spec_from_file_location("ct8", EXAMPLES / "ct8_from_scratch.py")
    ct8 = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ct8)
    config = load_config(data={"model_config": ct8.ARCHITECTURE, "training_config": ct8.TRAINING})
    model = build_model(config, byte_tokenizer(), "cpu")
    assert 10e6 <= sum(p.numel() for p in model.parameters()) <= 20e6
