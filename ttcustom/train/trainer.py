"""`Trainer`: the training loop, usable from a script or from `ttcustom train`.

    trainer = Trainer(model, optimizer, train_data, eval_data, config, callbacks)
    trainer.train()                      # or trainer.train(resume_from="latest")

`model(input_ids, attention_mask=None, labels=None)` must return an object with
`.loss`; batches (`ttcustom.data.Batch`, from `collator`) are passed as host torch
tensors (the model uploads them once).
The loss is read back to the host only on log, eval and checkpoint steps; a
non-finite loss or gradient norm stops the run before the optimizer step, and no
checkpoint is ever written after one, so the last checkpoint on disk is a good one.

Distributed runs: pass a `sampler` (e.g. `ttcustom.distributed.DistributedSampler`);
logging, checkpoints and the final export happen on the main process only.
"""

from __future__ import annotations

import contextlib
import logging
import math
import shutil
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ttcustom.autograd.function import no_grad
from ttcustom.autograd.tensor import Tensor
from ttcustom.data.collate import Batch, Collator
from ttcustom.data.loader import DataLoader
from ttcustom.data.validate import DataReport, DataValidationError
from ttcustom.optim.clip import clip_grad_norm_
from ttcustom.optim.lr_scheduler import LambdaLR, get_cosine_schedule_with_warmup, get_scheduler
from ttcustom.train import checkpoint as ckpt
from ttcustom.train import compiled
from ttcustom.train.callbacks import (
    Callback,
    JsonlMetrics,
    LossCurves,
    ProgressBar,
    SampleGeneration,
    TensorBoardLogger,
    WandbLogger,
)
from ttcustom.train.config import RunConfig, load_config
from ttcustom.train.run_files import RUN_OUTPUTS, RunFiles
from ttcustom.train.runlock import RunLock

log = logging.getLogger("ttcustom.train")


class NonFiniteLossError(FloatingPointError):
    """The loss or gradient norm became NaN/Inf; the message names the last good checkpoint."""


@dataclass
class TrainerState:
    step: int = 0
    tokens_seen: int = 0
    best_val_loss: float | None = None
    evals_without_improvement: int = 0
    stop_reason: str | None = None
    history: dict[str, list] = field(default_factory=lambda: {"train": [], "val": []})


class Trainer:
    def __init__(self, model: Any, optimizer: Any, train_data: Any, eval_data: Any = None,
                 config: RunConfig | dict | None = None, callbacks: Sequence[Callback] = (), *,
                 scheduler: LambdaLR | None = None, tokenizer: Any = None,
                 prompt_format: str = "raw", prompt_template: str | None = None,
                 sampler: Any = None, collator: Collator | None = None,
                 is_main_process: bool | None = None, output_dir: str | Path | None = None) -> None:
        self.config = config if isinstance(config, RunConfig) else load_config(data=config or {})
        self.training = self.config.training_config
        self.model = model
        self.module = getattr(model, "module", model)  # unwrapped from DistributedDataParallel
        self.optimizer = optimizer
        self.tokenizer = tokenizer
        self.prompt_format, self.prompt_template = prompt_format, prompt_template
        self.output_dir = Path(output_dir or self.config.logging_config.output_dir)
        self.is_main = _main_process() if is_main_process is None else is_main_process
        collator = collator or Collator.for_tokenizer(tokenizer)
        # batch_size is per replica; a DDP process on a tt mesh loads rows for each device
        rows = self.training.batch_size * getattr(model, "replicas_per_process", 1)
        self.train_loader = _as_loader(train_data, rows, True,
                                       self.training.seed, collator, sampler, "training")
        self.eval_loader = None if eval_data is None else _as_loader(
            eval_data, self.training.validation_batch_size or self.training.batch_size, False,
            self.training.seed, collator, None, "validation")
        self.total_steps = self._total_steps()
        self.scheduler = scheduler or self._build_scheduler()
        self.params = [p for p in model.parameters() if p.requires_grad]
        if not self.params:
            raise ValueError("the model has no trainable parameters (all requires_grad=False)")
        self.state = TrainerState()
        mode = compiled.resolve(self.training.compile, self.total_steps)
        self.programs = None if mode == "off" else compiled.StepPrograms(self, mode == "on")
        # on the reference backend a scalar read is cheap, so every step is checked for a
        # non-finite loss before its update; on tt that would be a host round-trip per
        # step, and the check rides on the loss read-back of log/eval/checkpoint steps
        self._host_reads_are_cheap = getattr(self.params[0].backend, "name", "") in ("cpu", "cuda")
        self.callbacks = self._default_callbacks() + list(callbacks)
        self._reset_window()

    # ------------------------------------------------------------------ set-up
    def _total_steps(self) -> int:
        per_epoch = max(1, len(self.train_loader) // self.training.gradient_accumulation_steps)
        limits = [self.training.max_steps,
                  self.training.num_epochs and self.training.num_epochs * per_epoch]
        return min(limit for limit in limits if limit)

    def _build_scheduler(self) -> LambdaLR:
        t = self.training
        if t.scheduler == "cosine":
            return get_cosine_schedule_with_warmup(self.optimizer, t.warmup_steps, self.total_steps,
                                                   min_lr_ratio=t.min_lr_ratio)
        return get_scheduler(t.scheduler, self.optimizer, t.warmup_steps, self.total_steps)

    def _default_callbacks(self) -> list[Callback]:
        logging_config, eval_config = self.config.logging_config, self.config.eval_config
        callbacks: list[Callback] = [
            RunFiles(self.tokenizer, self.prompt_format, self.prompt_template),
            JsonlMetrics(), LossCurves()]
        if logging_config.progress_bar:
            callbacks.insert(1, ProgressBar())
        if logging_config.use_wandb:
            callbacks.append(WandbLogger(logging_config.wandb_project,
                                         logging_config.wandb_run_name, logging_config.wandb_mode))
        if logging_config.tensorboard:
            callbacks.append(TensorBoardLogger())
        if eval_config.prompts and self.tokenizer is not None and self.eval_loader is not None:
            callbacks.append(SampleGeneration(
                self.tokenizer, eval_config.prompts, self.prompt_format, self.prompt_template,
                eval_config.max_new_tokens,
                eval_config.temperature, eval_config.top_k, eval_config.top_p,
                self.training.seed))
        return callbacks

    def _call(self, hook: str, *args: Any) -> None:
        if self.is_main:
            for callback in self.callbacks:
                getattr(callback, hook)(self, *args)

    @property
    def checkpoint_dir(self) -> Path:
        sub = self.training.checkpoint_dir
        return self.output_dir / sub if sub else self.output_dir

    # ------------------------------------------------------------------ the loop
    def train(self, resume_from: str | Path | None = None) -> TrainerState:
        """Run to `total_steps` (or early stop); `resume_from` a checkpoint dir or "latest"."""
        lock, created = RunLock(self.output_dir), False
        if self.is_main:
            created = not self.output_dir.exists()
            lock.acquire()
        try:
            self._start(resume_from, created)
        except BaseException:
            lock.release()
            if created:  # a refused run leaves no trace
                with contextlib.suppress(OSError):
                    self.output_dir.rmdir()
            raise
        try:
            self._run()
        finally:
            lock.release()
        log.info("training stopped at step %d: %s", self.state.step, self.state.stop_reason)
        return self.state

    def _start(self, resume_from: str | Path | None, created: bool) -> None:
        """Checks first (earlier checkpoints, resume source); the run's files after."""
        log_file = self.output_dir / "training.log"
        if resume_from is not None and self.is_main and not created:  # says which checkpoint
            _attach_file_log(log_file, self.config.logging_config.log_level)
        if resume_from is not None:
            self._resume(resume_from)
        elif self.is_main:
            self._claim_output_dir()
        if self.is_main:
            _attach_file_log(log_file, self.config.logging_config.log_level)
        log.info("training %d steps from step %d: %d trainable tensors, %d batches per epoch",
                 self.total_steps, self.state.step, len(self.params), len(self.train_loader))

    def _run(self) -> None:
        self._call("on_train_begin")
        if self.eval_loader is not None and self.state.step == 0:
            self._evaluate_and_record()  # the starting point (a base model's own loss)
        batches = self._batches()
        self.model.train()
        try:
            while self.state.step < self.total_steps and self.state.stop_reason is None:
                self._step(batches)
            if self.state.stop_reason is None:
                self.state.stop_reason = "completed"
            if self.eval_loader is not None and not self._evaluated_at(self.state.step):
                self._evaluate_and_record()
            self._call("on_train_complete")
            if self.programs is not None:
                log.info("captured steps: %s", self.programs.describe())
        except BaseException:
            self._call_quietly("on_train_end")  # the first error is the one to report
            raise
        self._call("on_train_end")

    def _call_quietly(self, hook: str) -> None:
        """Every callback's `hook`, logging (not raising) their errors."""
        for callback in self.callbacks if self.is_main else ():
            try:
                getattr(callback, hook)(self)
            except Exception as err:
                log.warning("%s.%s after the run failed: %s: %s", type(callback).__name__,
                            hook, type(err).__name__, err)

    def _claim_output_dir(self) -> None:
        """A fresh run must not mix its checkpoints with an earlier run's; --overwrite
        starts clean (the earlier run's checkpoints and outputs are deleted)."""
        stale = ckpt.list_checkpoints(self.checkpoint_dir)
        overwrite = self.config.logging_config.overwrite_output_dir
        if stale and not overwrite:
            raise FileExistsError(
                f"{self.checkpoint_dir} holds checkpoints of an earlier run ({stale[-1].name}); "
                "continue it with --resume, pick another --output-dir, or start over with "
                "--overwrite (deletes them)")
        if not overwrite:
            return
        for old in stale:
            shutil.rmtree(old)
        outputs = [self.output_dir / name for name in RUN_OUTPUTS]
        for path in outputs:
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
        with contextlib.suppress(FileNotFoundError):  # an open log handler keeps appending
            (self.output_dir / "training.log").open("w").close()
        log.info("--overwrite: deleted %d checkpoints and the outputs of an earlier run in %s",
                 len(stale), self.output_dir)

    def _batches(self) -> Iterator[Batch]:
        while True:
            yield from self.train_loader

    def _step(self, batches: Iterator[Batch]) -> None:
        accum = self.training.gradient_accumulation_steps
        step = self.state.step + 1
        for micro in range(accum):
            batch = next(batches)
            with self._sync_gradients(micro == accum - 1):
                if self.programs is not None:
                    loss = self.programs.forward_backward(batch)
                else:
                    loss = self._forward(self.model, batch.input_ids, batch.attention_mask,
                                         batch.labels)
                    (loss * (1.0 / accum)).backward()
            with no_grad():
                self._loss_sum = loss.detach() if self._loss_sum is None else self._loss_sum + loss.detach()
            self._micro_batches += 1
            self._window_tokens += batch.num_tokens
        norm = self._grad_norm()
        with no_grad():
            self._norm_sum = norm if self._norm_sum is None else self._norm_sum + norm
        self._window_steps += 1
        if self._must_read(step) or (self._host_reads_are_cheap and _not_finite(norm)):
            self._read_and_log(step)  # raises on a non-finite loss before the update
        if self.programs is not None:
            self.programs.update()
        else:
            self.optimizer.step()
            self.optimizer.zero_grad()
        self.scheduler.step()
        self.state.step = step
        self._call("on_step_end")
        paused = False
        if self.eval_loader is not None and step % self.training.validation_frequency == 0:
            self._evaluate_and_record()
            paused = True
        if self._checkpoint_due(step):
            self.save_checkpoint()
            paused = True
        if paused:  # tokens/s measures training only
            self._window_start = time.perf_counter()

    def _sync_gradients(self, last_micro_batch: bool) -> contextlib.AbstractContextManager:
        """DDP averages gradients once per step: micro-batches before the last run no_sync."""
        no_sync = getattr(self.model, "no_sync", None)
        return contextlib.nullcontext() if last_micro_batch or no_sync is None else no_sync()

    def _forward(self, model: Any, input_ids: Any, attention_mask: Any, labels: Any) -> Tensor:
        out = model(input_ids, attention_mask=attention_mask, labels=labels)
        if getattr(out, "loss", None) is None:
            raise TypeError(f"{type(model).__name__}(input_ids, attention_mask, labels) "
                            "returned no .loss; the Trainer needs the model to compute it")
        return out.loss

    def _grad_norm(self) -> Tensor:
        return self._eager_grad_norm() if self.programs is None else self.programs.norm()

    def _eager_grad_norm(self) -> Tensor:
        clip = self.training.grad_clip
        if clip is not None:
            return clip_grad_norm_(self.params, clip)
        grads = [p.grad.data for p in self.params if p.grad is not None]
        backend = self.params[0].backend
        return Tensor(backend.global_norm(grads, 2.0), backend)

    def _must_read(self, step: int) -> bool:
        t = self.training
        return (step % self.config.logging_config.log_every == 0 or step == self.total_steps
                or self._checkpoint_due(step)
                or (self.eval_loader is not None and step % t.validation_frequency == 0))

    def _checkpoint_due(self, step: int) -> bool:
        if self.training.save_strategy == "epoch":
            return self.train_loader.batch_index >= len(self.train_loader)
        return step % self.training.checkpoint_frequency == 0

    def _reset_window(self) -> None:
        self._loss_sum: Tensor | None = None
        self._norm_sum: Tensor | None = None
        self._micro_batches = 0
        self._window_steps = 0
        self._window_tokens = 0
        self._window_start = time.perf_counter()

    def _read_and_log(self, step: int) -> None:
        """Read the losses since the last read (one host transfer); stop if not finite."""
        loss = self._loss_sum.item() / self._micro_batches
        norm = self._norm_sum.item() / self._window_steps
        if not (math.isfinite(loss) and math.isfinite(norm)):
            self._fail_non_finite(step, loss, norm)
        elapsed = max(time.perf_counter() - self._window_start, 1e-9)
        self.state.tokens_seen += self._window_tokens
        metrics = {"step": step, "epoch": self.train_loader.epoch, "loss": loss,
                   "lr": self.optimizer.param_groups[0]["lr"], "grad_norm": norm,
                   "tokens_per_s": self._window_tokens / elapsed,
                   "tokens": self.state.tokens_seen}
        self.state.history["train"].append([step, loss])
        self._reset_window()
        log.debug("step %d: loss %.4f lr %.3e grad_norm %.3f", step, loss, metrics["lr"], norm)
        self._call("on_log", metrics)

    def _fail_non_finite(self, step: int, loss: float, norm: float) -> None:
        good = ckpt.latest_checkpoint(self.checkpoint_dir)
        where = f"the last good checkpoint is {good}" if good else "no checkpoint was written yet"
        if self._host_reads_are_cheap or self._window_steps == 1:
            stopped = "before updating the weights with it"
        else:  # tt: read back every log_every steps; the in-memory weights are not saved
            stopped = (f"at the read-back after {self._window_steps} steps (the weights in "
                       "memory are discarded, nothing was saved after it)")
        raise NonFiniteLossError(
            f"non-finite training loss {loss} (gradient norm {norm}) by step {step}; the run "
            f"stopped {stopped} and {where}. Lower "
            f"training_config.learning_rate ({self.training.learning_rate}), keep grad_clip "
            "set, or check the data; resume with --resume from the checkpoint.")

    # ------------------------------------------------------------------ evaluation
    def _evaluated_at(self, step: int) -> bool:
        return bool(self.state.history["val"]) and self.state.history["val"][-1][0] == step

    def evaluate(self) -> dict[str, float]:
        """Mean loss per predicted token over the validation data, and its perplexity."""
        was_training = self.model.training
        self.model.eval()
        total, count = 0.0, 0
        self.eval_loader.load_state_dict({"epoch": 0, "batch_index": 0})
        with no_grad():
            for i, batch in enumerate(self.eval_loader):
                if self.training.eval_batches is not None and i >= self.training.eval_batches:
                    break
                # the unwrapped module: every replica scores the whole batch (a DDP
                # wrapper would split it over a mesh and report one device's share)
                loss = self._forward(self.module, batch.input_ids, batch.attention_mask,
                                     batch.labels)
                total += loss.item() * batch.num_targets
                count += batch.num_targets
        self.model.train(was_training)
        val_loss = total / max(count, 1)
        return {"step": self.state.step, "val_loss": val_loss,
                "val_perplexity": math.exp(min(val_loss, 700.0))}

    def _evaluate_and_record(self) -> None:
        metrics = self.evaluate()
        self.state.history["val"].append([self.state.step, metrics["val_loss"]])
        self._early_stopping(metrics["val_loss"])
        log.info("step %d: validation loss %.4f, perplexity %.2f", self.state.step,
                 metrics["val_loss"], metrics["val_perplexity"])
        self._call("on_evaluate", metrics)

    def _early_stopping(self, val_loss: float) -> None:
        best = self.state.best_val_loss
        if best is None or val_loss < best - self.training.early_stopping_min_delta:
            self.state.best_val_loss = val_loss
            self.state.evals_without_improvement = 0
            return
        self.state.evals_without_improvement += 1
        patience = self.training.early_stopping_patience
        if patience is not None and self.state.evals_without_improvement >= patience:
            self.state.stop_reason = (f"early stopping: validation loss has not improved on "
                                      f"{best:.4f} for {patience} evaluations")

    # ------------------------------------------------------------------ checkpoints
    def save_checkpoint(self) -> Path | None:
        """Write `checkpoint_step_N/` (main process) and keep the newest N."""
        if not self.is_main:
            return None
        directory = self.checkpoint_dir
        state = {"trainer": asdict(self.state), "data": self.train_loader.state_dict(),
                 "total_steps": self.total_steps, "prompt_format": self.prompt_format,
                 "prompt_template": self.prompt_template, "config": self.config.to_dict()}
        path = ckpt.save_checkpoint(directory / ckpt.checkpoint_name(self.state.step), self.module,
                                    self.optimizer, self.scheduler, state)
        ckpt.prune_checkpoints(directory, self.training.keep_last_checkpoints)
        log.info("saved checkpoint %s", path)
        self._call("on_checkpoint", path)
        return path

    def _resume(self, resume_from: str | Path) -> None:
        """Load `resume_from`: a checkpoint, or "latest" = the newest intact one (damaged
        ones are skipped with a warning naming them)."""
        named = str(resume_from) != "latest"
        candidates = [Path(resume_from)] if named else \
            ckpt.list_checkpoints(self.checkpoint_dir)[::-1]
        if not candidates:
            raise FileNotFoundError(f"--resume latest: no complete checkpoint in "
                                    f"{self.checkpoint_dir}")
        damaged = []
        for source in candidates:
            problem = self._load_if_intact(source, named)
            if problem is None:
                break
            if named:
                raise ValueError(f"--resume {source}: the checkpoint is damaged: {problem}; "
                                 "resume from an earlier checkpoint_step_N, or with --resume "
                                 "alone (the newest intact one)")
            damaged.append(f"{source.name} ({problem})")
            log.warning("checkpoint %s is damaged (%s); trying the one written before it",
                        source, problem)
        else:
            raise ValueError(f"--resume: no intact checkpoint in {self.checkpoint_dir}: "
                             + "; ".join(damaged))
        if damaged:
            log.warning("resumed from %s at step %d: the newest intact checkpoint (skipped "
                        "damaged: %s)", source, self.state.step, ", ".join(damaged))
        else:
            log.info("resumed from %s at step %d", source, self.state.step)

    def _load_if_intact(self, source: Path, named: bool) -> str | None:
        """Restore everything from `source`; None, or what is wrong with its files."""
        if (source / ckpt.STATE_FILE).is_file():
            problem = ckpt.verify_checkpoint(source)
            if problem is not None:
                return problem
            self._check_resumed_config(source)
        try:
            saved = ckpt.load_checkpoint(source, self.module, self.optimizer, self.scheduler)
        except (OSError, ValueError) as err:
            if named:  # the user's choice: its own error (incomplete, another model...)
                raise
            return f"{type(err).__name__}: {err}"
        self.state = TrainerState(**saved["trainer"])
        self.train_loader.load_state_dict(saved["data"])
        return None

    def _check_resumed_config(self, source: Path) -> None:
        """Settings a resumed run can take on are applied (and logged); any other change
        is refused naming the key: the checkpoint's optimizer, schedule and data order
        would silently override it."""
        saved = ckpt.read_state(source).get("config")
        if saved is None:  # written before configs were kept in checkpoints
            return
        old, new = _flatten(saved), _flatten(self.config.to_dict())
        changed = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
        refused = [k for k in changed if not k.startswith(RESUMABLE_CHANGES)]
        if refused:
            key, others = refused[0], ", ".join(refused[1:])
            also = f" (also changed: {others})" if others else ""
            raise ValueError(
                f"--resume: {key} is {new.get(key)!r} now but was {old.get(key)!r} when "
                f"{source.name} was written{also}; a resumed run keeps the checkpoint's "
                "model, optimizer, schedule and data, so it cannot take this change: drop "
                f"--set {key}=... (or restore the config), or start a new run (another "
                "--output-dir, or --overwrite)")
        for key in changed:
            log.info("resuming with a changed setting: %s %r -> %r", key, old.get(key),
                     new.get(key))


#: Settings a resumed run applies when they differ from the checkpoint's (prefixes).
RESUMABLE_CHANGES = (
    "logging_config.", "eval_config.", "device_config.backend",
    *(f"training_config.{key}" for key in (
        "max_steps", "num_epochs", "validation_frequency", "validation_batch_size",
        "eval_batches", "checkpoint_frequency", "save_strategy", "keep_last_checkpoints",
        "early_stopping_patience", "early_stopping_min_delta")),
)


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(_flatten(item, f"{prefix}{key}."))
        return out
    return {prefix[:-1]: value}


# ---------------------------------------------------------------------- helpers
def _as_loader(data: Any, batch_size: int, shuffle: bool, seed: int, collator: Collator,
               sampler: Any, role: str) -> DataLoader:
    """A DataLoader from a DataLoader, a validated DataReport or a sequence of examples."""
    if isinstance(data, DataLoader):
        return data
    if isinstance(data, DataReport):
        if not data.ok:
            raise DataValidationError(data)
        data = data.examples
    if not isinstance(data, Sequence) or not data:
        raise ValueError(f"{role} data must be a DataLoader, a DataReport or a non-empty list of "
                         f"examples, got {type(data).__name__}")
    return DataLoader(data, batch_size, shuffle=shuffle, seed=seed, drop_last=shuffle,
                      collate_fn=collator, sampler=sampler)


def _not_finite(norm: Tensor) -> bool:
    """Whether the gradient norm is NaN/Inf (one scalar read). A non-finite loss makes
    non-finite gradients, and the norm (unlike the loss) is the same on every
    data-parallel rank, so all ranks stop together."""
    return not math.isfinite(norm.item())


def _main_process() -> bool:
    from ttcustom.distributed import is_main_process

    return is_main_process()


def _attach_file_log(path: Path, level: str) -> None:
    """Send ttcustom's log records to `training.log` in the run directory (once per path)."""
    root = logging.getLogger("ttcustom")
    root.setLevel(level)
    for handler in root.handlers:
        if isinstance(handler, logging.FileHandler) and Path(handler.baseFilename) == path.resolve():
            return
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)


__all__ = ["NonFiniteLossError", "Trainer", "TrainerState"]
