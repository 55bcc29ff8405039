"""What a run leaves in its output directory besides checkpoints and metrics.

`RunFiles` is the recipe's side of a run, kept out of the training loop: the run
record `config.yaml` (naming the model's source, so `ttcustom export` and `--resume`
can rebuild the model), the tokenizer, and at the end `final_model/` (transformers /
vLLM) plus `final_adapter/` (PEFT) for LoRA. The `Trainer` adds it to its callbacks,
so a run made from Python leaves the same files as `ttcustom train`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ttcustom.lora import adapter_config, has_lora
from ttcustom.train.artifacts import save_model_dir
from ttcustom.train.callbacks import Callback
from ttcustom.train.config import LoraSection, RunConfig, save_config

if TYPE_CHECKING:
    from ttcustom.train.trainer import Trainer

log = logging.getLogger("ttcustom.train")

#: What a run writes into output_dir besides checkpoints (and training.log, emptied);
#: --overwrite deletes them so nothing of the earlier run is mistaken for this one's.
RUN_OUTPUTS = ("final_model", "final_adapter", "tokenizer", "metrics.jsonl", "validation.txt",
               "training_curves.png", "tensorboard")


class RunFiles(Callback):
    """Writes `config.yaml` and the tokenizer when the run starts (after the trainer's
    checks, so a refused run writes nothing), and the final model when it completes."""

    def __init__(self, tokenizer: Any = None, prompt_format: str = "raw",
                 prompt_template: str | None = None) -> None:
        self.tokenizer = tokenizer
        self.prompt_format, self.prompt_template = prompt_format, prompt_template

    def on_train_begin(self, trainer: Trainer) -> None:
        save_config(run_record(trainer.config, trainer.module), trainer.output_dir / "config.yaml")
        if self.tokenizer is not None:
            from ttcustom.data.tokenizers import save_tokenizer

            save_tokenizer(self.tokenizer, trainer.output_dir / "tokenizer")

    def on_train_complete(self, trainer: Trainer) -> None:
        out = save_model_dir(trainer.module, trainer.output_dir / "final_model", self.tokenizer,
                             self.prompt_format, self.prompt_template)
        log.info("saved the final model to %s", out)
        if has_lora(trainer.module):
            from ttcustom.export import to_peft

            to_peft(trainer.module, trainer.output_dir / "final_adapter")
            log.info("saved the LoRA adapter to %s", trainer.output_dir / "final_adapter")


def run_record(config: RunConfig, model: Any) -> RunConfig:
    """`config` naming the model's source as model.path (and its LoRA layers as `lora`)
    when it names none: a run made from Python on a model `from_hf` / `from_gguf` loaded
    stays exportable, since export rebuilds the model from the run's config."""
    source = getattr(getattr(model, "config", None), "name_or_path", None)
    if not source or config.model.path is not None or config.architecture is not None:
        return config
    if Path(source).exists():  # absolute, so export finds it from any directory
        source = str(Path(source).resolve())
    update: dict[str, Any] = {"model": config.model.model_copy(update={"path": source})}
    if config.lora is None and has_lora(model):
        update["lora"] = _lora_section(model)
    return config.model_copy(update=update)


def _lora_section(model: Any) -> LoraSection:
    """The `lora` config section that `apply_lora` would turn into `model`'s LoRA layers."""
    peft = adapter_config(model)
    return LoraSection(r=peft["r"], alpha=float(peft["lora_alpha"]),
                       dropout=float(peft["lora_dropout"]), target_modules=peft["target_modules"])


__all__ = ["RUN_OUTPUTS", "RunFiles", "run_record"]
