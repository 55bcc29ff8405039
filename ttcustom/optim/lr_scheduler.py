"""Learning-rate schedules with torch's LRScheduler contract (step, get_last_lr, state_dict).

The factory names and formulas match `transformers.get_*_schedule_with_warmup`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from ttcustom.optim.optimizer import Optimizer


class LambdaLR:
    """lr = base_lr * lr_lambda(step); `step()` advances once per optimizer step."""

    def __init__(self, optimizer: Optimizer, lr_lambda: Callable[[int], float],
                 last_epoch: int = -1) -> None:
        self.optimizer = optimizer
        self.lr_lambda = lr_lambda
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self.step()

    def get_lr(self) -> list[float]:
        return [base * self.lr_lambda(self.last_epoch) for base in self.base_lrs]

    def step(self) -> None:
        self.last_epoch += 1
        self._last_lr = self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, self._last_lr):
            group["lr"] = lr

    def get_last_lr(self) -> list[float]:
        return list(self._last_lr)

    def state_dict(self) -> dict:
        return {"last_epoch": self.last_epoch, "base_lrs": list(self.base_lrs),
                "_last_lr": list(self._last_lr)}

    def load_state_dict(self, state: dict) -> None:
        self.last_epoch = state["last_epoch"]
        self.base_lrs = list(state["base_lrs"])
        self._last_lr = list(state["_last_lr"])
        for group, lr in zip(self.optimizer.param_groups, self._last_lr):
            group["lr"] = lr


def _warmup(step: int, warmup_steps: int) -> float | None:
    return step / max(1, warmup_steps) if step < warmup_steps else None


def get_constant_schedule_with_warmup(optimizer: Optimizer, num_warmup_steps: int = 0) -> LambdaLR:
    def factor(step: int) -> float:
        warm = _warmup(step, num_warmup_steps)
        return 1.0 if warm is None else warm

    return LambdaLR(optimizer, factor)


def get_linear_schedule_with_warmup(optimizer: Optimizer, num_warmup_steps: int,
                                    num_training_steps: int) -> LambdaLR:
    def factor(step: int) -> float:
        warm = _warmup(step, num_warmup_steps)
        if warm is not None:
            return warm
        remaining = num_training_steps - step
        return max(0.0, remaining / max(1, num_training_steps - num_warmup_steps))

    return LambdaLR(optimizer, factor)


def get_cosine_schedule_with_warmup(optimizer: Optimizer, num_warmup_steps: int,
                                    num_training_steps: int, num_cycles: float = 0.5,
                                    min_lr_ratio: float = 0.0) -> LambdaLR:
    """Warmup, then cosine from the base lr down to `min_lr_ratio * base lr`."""

    def factor(step: int) -> float:
        warm = _warmup(step, num_warmup_steps)
        if warm is not None:
            return warm
        progress = (step - num_warmup_steps) / max(1, num_training_steps - num_warmup_steps)
        cosine = max(0.0, 0.5 * (1.0 + math.cos(math.pi * num_cycles * 2.0 * progress)))
        return min_lr_ratio + (1.0 - min_lr_ratio) * cosine

    return LambdaLR(optimizer, factor)


SCHEDULES = {
    "constant": lambda opt, warmup, total: get_constant_schedule_with_warmup(opt, warmup),
    "linear": get_linear_schedule_with_warmup,
    "cosine": get_cosine_schedule_with_warmup,
}


def get_scheduler(name: str, optimizer: Optimizer, num_warmup_steps: int,
                  num_training_steps: int) -> LambdaLR:
    """A schedule by name: constant, linear or cosine (each with linear warmup)."""
    if name not in SCHEDULES:
        raise ValueError(f"unknown scheduler {name!r}; choose one of {sorted(SCHEDULES)}")
    return SCHEDULES[name](optimizer, num_warmup_steps, num_training_steps)
