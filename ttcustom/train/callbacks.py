"""Trainer callbacks: progress bar, metrics files, wandb, TensorBoard, samples, loss plot.

A callback overrides any of the `on_*` hooks; each receives the `Trainer` (its
`state`, `config`, `output_dir`, `model`). The trainer calls callbacks on the main
process only, so they may write files freely.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm.auto import tqdm

from ttcustom.oserrors import naming
from ttcustom.train.plot import plot_loss_curves

if TYPE_CHECKING:
    from ttcustom.train.trainer import Trainer

log = logging.getLogger("ttcustom.train")


class Callback:
    def on_train_begin(self, trainer: Trainer) -> None: ...

    def on_step_end(self, trainer: Trainer) -> None: ...

    def on_log(self, trainer: Trainer, metrics: dict[str, Any]) -> None: ...

    def on_evaluate(self, trainer: Trainer, metrics: dict[str, Any]) -> None: ...

    def on_checkpoint(self, trainer: Trainer, path: Path) -> None: ...

    def on_train_complete(self, trainer: Trainer) -> None:
        """The run reached its end (completed or stopped early) without an error; runs
        before `on_train_end`, which is also called after an error."""

    def on_train_end(self, trainer: Trainer) -> None: ...


class ProgressBar(Callback):
    """tqdm bar over optimizer steps with loss, lr and tokens/s (ETA from tqdm)."""

    def on_train_begin(self, trainer: Trainer) -> None:
        self.bar = tqdm(total=trainer.total_steps, initial=trainer.state.step, desc="Training",
                        unit="step", dynamic_ncols=True)

    def on_step_end(self, trainer: Trainer) -> None:
        self.bar.update(1)

    def on_log(self, trainer: Trainer, metrics: dict[str, Any]) -> None:
        self.bar.set_postfix(loss=f"{metrics['loss']:.4f}", lr=f"{metrics['lr']:.2e}",
                             tok_s=f"{metrics['tokens_per_s']:.0f}", refresh=False)

    def on_train_end(self, trainer: Trainer) -> None:
        self.bar.close()


def _step_of(line: str, path: Path) -> float:
    """The step of a metrics record; a torn or unreadable line (a run killed mid-write)
    counts as past the end, so it is dropped."""
    try:
        step = json.loads(line)["step"]
    except (ValueError, KeyError, TypeError):
        if line.strip():
            log.warning("%s: dropping an unreadable line (a run killed mid-write?): %.60s",
                        path, line)
        return math.inf
    return step if isinstance(step, (int, float)) else math.inf


class JsonlMetrics(Callback):
    """One JSON object per logged step or evaluation in `metrics.jsonl`.

    On resume, records past the resumed step (written by the interrupted run) are
    dropped first, so the file reads like one uninterrupted run.
    """

    def on_train_begin(self, trainer: Trainer) -> None:
        self.path = trainer.output_dir / "metrics.jsonl"
        if self.path.exists():
            kept = [line for line in self.path.read_text(errors="replace").splitlines()
                    if _step_of(line, self.path) <= trainer.state.step]
            self.path.write_text("".join(f"{line}\n" for line in kept))

    def _write(self, record: dict[str, Any]) -> None:
        with naming(self.path), self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")

    def on_log(self, trainer: Trainer, metrics: dict[str, Any]) -> None:
        self._write(metrics)

    def on_evaluate(self, trainer: Trainer, metrics: dict[str, Any]) -> None:
        self._write(metrics)


class LossCurves(Callback):
    """`training_curves.png` after every evaluation and at the end of training."""

    def _plot(self, trainer: Trainer) -> None:
        history = trainer.state.history
        plot_loss_curves(history["train"], history["val"], trainer.output_dir / "training_curves.png")

    def on_evaluate(self, trainer: Trainer, metrics: dict[str, Any]) -> None:
        self._plot(trainer)

    def on_train_end(self, trainer: Trainer) -> None:
        self._plot(trainer)


class SampleGeneration(Callback):
    """Generate answers to fixed prompts at each evaluation; print and append to validation.txt."""

    def __init__(self, tokenizer: Any, prompts: list[str], prompt_format: str = "raw",
                 prompt_template: str | None = None, max_new_tokens: int = 64, temperature: float = 0.0, top_k: int | None = None,
                 top_p: float | None = None, seed: int = 0) -> None:
        self.tokenizer = tokenizer
        self.prompts = prompts
        self.prompt_format = prompt_format
        self.options = dict(prompt_template=prompt_template, max_new_tokens=max_new_tokens, temperature=temperature, top_k=top_k,
                            top_p=top_p, seed=seed)

    def on_evaluate(self, trainer: Trainer, metrics: dict[str, Any]) -> None:
        from ttcustom.train.sampling import complete

        lines = [f"{'=' * 60}", f"Samples at step {metrics['step']} "
                 f"(validation loss {metrics['val_loss']:.4f})", "=" * 60]
        for i, prompt in enumerate(self.prompts, start=1):
            answer = complete(trainer.module, self.tokenizer, prompt, self.prompt_format,
                              **self.options)
            lines += [f"Q{i}: {prompt}", f"A{i}: {answer}", ""]
        text = "\n".join(lines)
        tqdm.write(text)
        with (trainer.output_dir / "validation.txt").open("a", encoding="utf-8") as handle:
            handle.write(text + "\n")


class WandbLogger(Callback):
    """Weights & Biases run; `mode: offline` writes under output_dir/wandb with no network."""

    def __init__(self, project: str, run_name: str | None, mode: str) -> None:
        try:
            import wandb
        except ImportError:
            raise ImportError("logging_config.use_wandb is true but wandb is not installed: "
                              "pip install wandb (or set use_wandb: false)") from None
        self.wandb = wandb
        self.project, self.run_name, self.mode = project, run_name, mode

    def on_train_begin(self, trainer: Trainer) -> None:
        self.run = self.wandb.init(project=self.project, name=self.run_name, mode=self.mode,
                                   dir=str(trainer.output_dir), config=trainer.config.to_dict(),
                                   resume="allow")

    def on_log(self, trainer: Trainer, metrics: dict[str, Any]) -> None:
        self.run.log({f"train/{k}": v for k, v in metrics.items() if k != "step"},
                     step=metrics["step"])

    def on_evaluate(self, trainer: Trainer, metrics: dict[str, Any]) -> None:
        self.run.log({f"eval/{k}": v for k, v in metrics.items() if k != "step"},
                     step=metrics["step"])

    def on_train_end(self, trainer: Trainer) -> None:
        self.run.finish()


class TensorBoardLogger(Callback):
    """Scalars under output_dir/tensorboard (needs the tensorboard package)."""

    def on_train_begin(self, trainer: Trainer) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise ImportError("logging_config.tensorboard is true but tensorboard is not "
                              "installed: pip install tensorboard") from None
        self.writer = SummaryWriter(str(trainer.output_dir / "tensorboard"))

    def _scalars(self, prefix: str, metrics: dict[str, Any]) -> None:
        for key, value in metrics.items():
            if key != "step" and isinstance(value, (int, float)) and math.isfinite(value):
                self.writer.add_scalar(f"{prefix}/{key}", value, metrics["step"])

    def on_log(self, trainer: Trainer, metrics: dict[str, Any]) -> None:
        self._scalars("train", metrics)

    def on_evaluate(self, trainer: Trainer, metrics: dict[str, Any]) -> None:
        self._scalars("eval", metrics)

    def on_train_end(self, trainer: Trainer) -> None:
        self.writer.close()
