"""Golden mode: every shipped config in examples/configs/ trains on the tt backend.

Each run goes through the recipe (`build_trainer`) with the config's own dtypes, LoRA
targets and mesh shape; models are shrunk to two layers and runs to a few steps, with
every ttnn call checked by the golden harness. Every step records the device programs
it needs (`program_key`); with the tt data path padding every batch to one length, the
steps after the optimizer's first two add none: a card compiles once per run.
"""

from __future__ import annotations

import shutil
from pathlib import Path

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
STEPS = 5
STARTER = ROOT / "examples" / "checkpoints" / "tiny-llama-starter"


class ProgramKeys(Callback):
    """The harness's program keys after each optimizer step."""

    def __init__(self, harness: GoldenTTNN) -> None:
        self.harness = harness
        self.per_step: list[set[tuple]] = []

    def on_step_end(self, trainer) -> None:
        self.per_step.append(set(self.harness.program_keys))


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


#: config -> (--set overrides that shrink it, mesh shape); dtypes, LoRA and mesh kept
RUNS = {
    "trickster_lora": ("trickster_lora.yaml", [], (1, 1)),
    "trickster_tinyllama_n150": ("trickster_tinyllama_n150.yaml",
                                 ["training_config.gradient_accumulation_steps=2"], (1, 1)),
    "nano_trickster": ("nano_trickster.yaml",
                       ["model_config.num_layers=2", "training_config.max_sequence_length=64",
                        "data.corpus=examples/data/starter_corpus.txt"], (1, 1)),
    # make_starter_checkpoint.py passes the trained tokenizer: the shipped one here
    "starter_pretrain": ("starter_pretrain.yaml", ["model_config.num_layers=2",
                                                   f"data.tokenizer.path={STARTER}"], (1, 1)),
    "trickster_lora_ddp_1x2": ("trickster_lora.yaml",
                               ["device_config.enable_ddp=true", "device_config.mesh_shape=[1, 2]"],
                               (1, 2)),
}


def run_config(name: str, tmp_path: Path, monkeypatch) -> tuple[object, ProgramKeys]:
    """Train `RUNS[name]` for STEPS steps on a golden tt backend (a mesh where it has one)."""
    file, overrides, mesh = RUNS[name]
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
    if mesh == (1, 1):
        backend = TTBackend(ttnn=GoldenTTNN())
    else:
        backend = TTBackend(ttnn=MeshGoldenTTNN(mesh), mesh_shape=mesh)
    monkeypatch.setattr(recipe, "resolve_backend", lambda _config: backend)
    try:
        trainer = recipe.build_trainer(config)
        keys = ProgramKeys(backend.ttnn)
        trainer.callbacks.append(keys)
        trainer.train()
    finally:
        backend.close()
    return trainer, keys


@pytest.mark.parametrize("name", RUNS)
def test_shipped_config_trains_on_tt_and_compiles_its_programs_once(name, tmp_path,
                                                                    monkeypatch):
    trainer, keys = run_config(name, tmp_path, monkeypatch)
    losses = [loss for _, loss in trainer.state.history["train"]]
    assert trainer.state.step == STEPS and losses and all(map(torch.isfinite,
                                                              torch.tensor(losses)))
    assert len(keys.per_step) == STEPS
    for step in range(2, STEPS):
        new = keys.per_step[step] - keys.per_step[step - 1]
        assert not new, f"step {step + 1} needs {len(new)} new programs: {sorted(new)[:3]}"
