"""AdamW (decoupled weight decay), numerically matching torch.optim.AdamW."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from ttcustom.autograd.tensor import Tensor
from ttcustom.capture.recorder import CaptureUnsupported, dynamic, recording
from ttcustom.optim.optimizer import Optimizer


class AdamW(Optimizer):
    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False,
                 master_weights: bool = False) -> None:
        if amsgrad:
            raise NotImplementedError("AdamW(amsgrad=True) is not supported")
        if not 0.0 <= betas[0] < 1.0 or not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"invalid betas {betas}: each must be in [0, 1)")
        if eps < 0 or weight_decay < 0:
            raise ValueError(f"invalid eps ({eps}) or weight_decay ({weight_decay})")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay),
                         master_weights)

    def _step_group(self, group: dict, params: list[Tensor], weights: list[Tensor],
                    grads: list) -> None:
        by_step: defaultdict[int, list[int]] = defaultdict(list)
        for i, (param, weight) in enumerate(zip(params, weights)):
            state = self.state[param]
            if "step" not in state:
                state["step"] = 0
                state["exp_avg"] = _zeros_like(weight)
                state["exp_avg_sq"] = _zeros_like(weight)
            state["step"] += 1
            by_step[state["step"]].append(i)
        beta1, beta2 = group["betas"]
        if len(by_step) > 1 and recording():
            raise CaptureUnsupported("AdamW: the parameters of a group are at different steps")
        index = self._group_index(group)
        for step, members in by_step.items():
            states = [self.state[params[i]] for i in members]
            params[0].backend.adamw_step(
                [weights[i].data for i in members],
                [grads[i] for i in members],
                [s["exp_avg"].data for s in states],
                [s["exp_avg_sq"].data for s in states],
                dynamic(step, ("step", index)), dynamic(group["lr"], ("lr", index)),
                beta1, beta2, group["eps"], group["weight_decay"],
            )

    def _advance(self, params: list[Tensor]) -> dict[tuple, float]:
        """A replayed step's bookkeeping: count the step of `params`; their lr and step."""
        values = {}
        for index, group in enumerate(self.param_groups):
            for param in group["params"]:
                if param in params:
                    state = self.state[param]
                    state["step"] += 1
                    values[("step", index)] = state["step"]
            values[("lr", index)] = group["lr"]
        return values


def _zeros_like(weight: Tensor) -> Tensor:
    backend = weight.backend
    return Tensor(backend.full(weight.shape, 0.0, weight.dtype), backend)
