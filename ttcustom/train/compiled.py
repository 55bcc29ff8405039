"""The Trainer's step as captured programs (`training_config.compile`).

A step is three programs, so the host can still read the loss and gradient norm
between the gradients and the weight update (a non-finite loss stops the run before
the update): forward + backward of one micro-batch, the gradient norm (and clipping),
and optimizer step + zero_grad. Each falls back to eager on its own (reason logged).
"""

from __future__ import annotations

import logging
from typing import Any

from ttcustom.autograd.tensor import Tensor
from ttcustom.capture import CapturedStep
from ttcustom.data.collate import Batch

log = logging.getLogger("ttcustom.train")

#: `compile: auto` compiles runs of at least this many steps (compile time is paid once)
AUTO_MIN_STEPS = 1000


def resolve(setting: str, total_steps: int) -> str:
    """`auto` -> `on` or `off`; the other settings as they are."""
    if setting != "auto":
        return setting
    return "on" if total_steps >= AUTO_MIN_STEPS else "off"


class StepPrograms:
    """The captured micro-batch, norm and update steps of one Trainer."""

    def __init__(self, trainer: Any, compile: bool) -> None:
        self.trainer = trainer
        module, optimizer = trainer.module, trainer.optimizer
        # uncapturable micro-batches run eagerly on the host batch, as without capture
        self.micro_batch = CapturedStep(self._micro_batch, module, optimizer, compile,
                                        eager=self._micro_batch)
        self.norm = CapturedStep(trainer._eager_grad_norm, module, optimizer, compile)
        self.update = CapturedStep(self._update, module, optimizer, compile)

    def forward_backward(self, batch: Batch) -> Tensor:
        return self.micro_batch(batch.input_ids, batch.attention_mask, batch.labels,
                                self.trainer.training.gradient_accumulation_steps)

    def _micro_batch(self, input_ids: Any, mask: Any, labels: Any, accum: int) -> Tensor:
        loss = self.trainer._forward(self.trainer.model, input_ids, mask, labels)
        (loss * (1.0 / accum)).backward()
        return loss.detach()

    def _update(self) -> None:
        self.trainer.optimizer.step()
        self.trainer.optimizer.zero_grad()

    def describe(self) -> dict[str, dict]:
        """Captures, replays and eager calls of each program, and why any ran eagerly."""
        return {name: {**step.stats, "reasons": sorted(set(step.reasons.values()))}
                for name, step in (("forward_backward", self.micro_batch), ("norm", self.norm),
                                   ("update", self.update))}


__all__ = ["AUTO_MIN_STEPS", "StepPrograms", "resolve"]
