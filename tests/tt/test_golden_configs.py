"""Golden mode: every shipped config in examples/configs/ trains on the tt backend.

Each run goes through the recipe (`build_trainer`) with the config's own dtypes, LoRA
targets and mesh shape; models are shrunk to two layers and runs to a few steps, with
every ttnn call checked by the golden harness. Every step records the device programs
it needs (`program_key`); with the tt data path padding every batch to one length, the
steps after the optimizer's first two add none: a card compiles once per run.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ttnn = pytest.importorskip("ttnn")

import torch  # noqa: E402

from tests.distributed.mesh_golden import MeshGoldenTTNN  # noqa: E402
from tests.tt.golden import GoldenTTNN  # noqa: E402
from ttcustom.backends.tt import TTBackend  # noqa: E402
from ttcustom.train import load_config, recipe  # noqa: E402
from ttcustom.train.callbacks import Callback  # noqa: E402

pytestmark = [pytest.mark.tt, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "examples" / "configs"
STEPS = 4
STARTER = ROOT / "examples" / "checkpoints" / "tiny-llama-starter"


class PerStep(Callback):
    """`measure()` after each optimizer step (program keys, or a card's program cache)."""

    def __init__(self, measure: Callable[[], Any]) -> None:
        self.measure = measure
        self.values: list[Any] = []

    def on_step_end(self, trainer) -> None:
        self.values.append(self.measure())


def tinyllama_shaped(directory: Path) -> Path:
    """A two-layer checkpoint with TinyLlama-1.1B's head geometry (head_dim 64, 8:1
    grouped-query attention, SwiGLU at 2.75x), bfloat16, the starter tokenizer."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=1024, hidden_size=512, intermediate_size=1408,
                         num_hidden_layers=2, num_attention_heads=8, num_key_value_heads=1,
                         head_dim=64, max_position_embeddings=512, tie_word_embeddings=False)
    LlamaForCausalLM(config).to(torch.bfloat16).save_pretrained(directory)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(STARTER / name, directory / name)
    return directory


#: the prompt/response examples cut to 64 tokens
SHORT = ["training_config.max_sequence_length=64", "data.truncate=true"]
#: config -> (--set overrides that shrink it, mesh shape); dtypes, LoRA and mesh kept
RUNS = {
    "trickster_lora": ("trickster_lora.yaml", SHORT, (1, 1)),
    "trickster_tinyllama_n150": ("trickster_tinyllama_n150.yaml",
                                 [*SHORT, "training_config.gradient_accumulation_steps=2"],
                                 (1, 1)),
    "nano_trickster": ("nano_trickster.yaml",
                       ["model_config.num_layers=2", "training_config.max_sequence_length=64",
                        "data.corpus=examples/data/starter_corpus.txt"], (1, 1)),
    # make_starter_checkpoint.py passes the trained tokenizer: the shipped one here
    "starter_pretrain": ("starter_pretrain.yaml", ["model_config.num_layers=2",
                                                   f"data.tokenizer.path={STARTER}"], (1, 1)),
    "trickster_lora_ddp_1x2": ("trickster_lora.yaml",
                               [*SHORT, "device_config.enable_ddp=true",
                                "device_config.mesh_shape=[1, 2]"], (1, 2)),
}


def run_config(name: str, tmp_path: Path, monkeypatch, backend: TTBackend,
               measure: Callable[[], Any], close: bool = True) -> tuple[Any, list[Any]]:
    """Train `RUNS[name]` for STEPS steps on `backend` (closed after, with `close`): the
    trainer and `measure()` after each step."""
    file, overrides, _ = RUNS[name]
    overrides = overrides + [
        f"training_config.max_steps={STEPS}", "training_config.batch_size=2",
        "training_config.validation_batch_size=2", "training_config.eval_batches=1",
        "training_config.validation_frequency=1000", "training_config.checkpoint_frequency=1000",
        f"logging_config.output_dir={tmp_path / 'run'}", "logging_config.progress_bar=false",
        "eval_config.prompts=[]",
    ]
    if name == "trickster_tinyllama_n150":
        overrides.append(f"model.path={tinyllama_shaped(tmp_path / 'tinyllama')}")
    monkeypatch.chdir(ROOT)
    config = load_config(CONFIGS / file, overrides)
    monkeypatch.setattr(recipe, "resolve_backend", lambda _config: backend)
    try:
        trainer = recipe.build_trainer(config)
        per_step = PerStep(measure)
        trainer.callbacks.append(per_step)
        trainer.train()
    finally:
        if close:
            backend.close()
    return trainer, per_step.values


def assert_trained(trainer: Any, per_step: list[Any]) -> None:
    losses = torch.tensor([loss for _, loss in trainer.state.history["train"]])
    assert trainer.state.step == STEPS and len(losses) and torch.isfinite(losses).all()
    assert len(per_step) == STEPS


@pytest.mark.parametrize("name", RUNS)
def test_shipped_config_trains_on_tt_and_compiles_its_programs_once(name, tmp_path,
                                                                    monkeypatch):
    mesh = RUNS[name][2]
    harness = GoldenTTNN() if mesh == (1, 1) else MeshGoldenTTNN(mesh)
    backend = TTBackend(ttnn=harness, mesh_shape=mesh)
    trainer, keys = run_config(name, tmp_path, monkeypatch, backend,
                               lambda: set(harness.program_keys))
    print(f"\n{name}: program keys after each step {[len(k) for k in keys]}")
    assert_trained(trainer, keys)
    for step in range(2, STEPS):
        new = keys[step] - keys[step - 1]
        assert not new, f"step {step + 1} needs {len(new)} new programs: {sorted(new)[:3]}"
