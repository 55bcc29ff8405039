"""SGD with momentum, dampening, Nesterov and weight decay, as torch.optim.SGD."""

from __future__ import annotations

from collections.abc import Iterable

from ttcustom.autograd.tensor import Tensor
from ttcustom.capture.recorder import dynamic
from ttcustom.optim.optimizer import Optimizer


class SGD(Optimizer):
    def __init__(self, params: Iterable, lr: float = 1e-3, momentum: float = 0.0,
                 dampening: float = 0.0, weight_decay: float = 0.0, nesterov: bool = False,
                 master_weights: bool = False) -> None:
        if momentum < 0 or weight_decay < 0:
            raise ValueError(f"invalid momentum ({momentum}) or weight_decay ({weight_decay})")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov),
                         master_weights)

    def _step_group(self, group: dict, params: list[Tensor], weights: list[Tensor],
                    grads: list) -> None:
        backend = params[0].backend
        buffers = [self.state[p].get("momentum_buffer") for p in params]
        new_buffers = backend.sgd_step(
            [w.data for w in weights],
            grads,
            [b.data if b is not None else None for b in buffers],
            dynamic(group["lr"], ("lr", self._group_index(group))),
            group["momentum"], group["dampening"], group["nesterov"],
            group["weight_decay"],
        )
        if group["momentum"] != 0:
            for param, old, new in zip(params, buffers, new_buffers):
                if old is None:
                    self.state[param]["momentum_buffer"] = Tensor(new, backend)

    def _advance(self, params: list[Tensor]) -> dict[tuple, float]:
        """A replayed step's per-step scalars: the lr of each group."""
        return {("lr", index): group["lr"] for index, group in enumerate(self.param_groups)}
