"""`Optimizer`: torch.optim's param_groups, state and state_dict contract."""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

import torch

from ttcustom.autograd.function import no_grad
from ttcustom.autograd.tensor import Tensor, zero_grads_


class Optimizer:
    """Holds param groups (dicts of params + hyperparameters) and per-parameter state.

    Subclasses implement `_step_group(group, params, weights, grads)`; steps run as
    backend primitives on the device and never read values back to the host.

    With `master_weights=True`, low-precision (e.g. bf16) parameters are updated through
    an fp32 copy kept in the optimizer state (with fp32 moments), then cast back: the
    usual mixed-precision recipe, so small updates are not rounded away.
    """

    def __init__(self, params: Iterable[Tensor] | Iterable[dict], defaults: dict[str, Any],
                 master_weights: bool = False) -> None:
        self.defaults = defaults
        self.master_weights = master_weights
        self.state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        groups = list(params)
        if not groups:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, group: dict[str, Any]) -> None:
        group = dict(group)
        params = group["params"]
        group["params"] = [params] if isinstance(params, Tensor) else list(params)
        for name, default in self.defaults.items():
            group.setdefault(name, default)
        unknown = set(group) - set(self.defaults) - {"params"}
        if unknown:
            raise ValueError(f"{type(self).__name__}: unknown param-group options {sorted(unknown)}; "
                             f"allowed: {sorted(self.defaults)}")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        for param in group["params"]:
            if not isinstance(param, Tensor):
                raise TypeError(f"optimizer params must be ttcustom Tensors, got {type(param).__name__}")
            if id(param) in seen:
                raise ValueError("a parameter appears in more than one parameter group")
        self._validate(group)
        self.param_groups.append(group)

    def _validate(self, group: dict[str, Any]) -> None:
        if group["lr"] < 0:
            raise ValueError(f"invalid learning rate: {group['lr']}")

    def zero_grad(self, set_to_none: bool = True) -> None:
        zero_grads_((p for g in self.param_groups for p in g["params"]), set_to_none)

    @no_grad()
    def step(self, closure: Callable[[], Tensor] | None = None) -> Tensor | None:
        loss = None
        if closure is not None:
            from ttcustom.autograd.function import enable_grad

            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            weights = [self._weight_of(p) for p in params]
            grads = [_cast(p.grad.data, w.dtype, p.backend) for p, w in zip(params, weights)]
            self._step_group(group, params, weights, grads)
            for param, weight in zip(params, weights):
                if weight is not param:
                    param.backend.copy_(param.data, param.backend.cast(weight.data, param.dtype))
        return loss

    def _weight_of(self, param: Tensor) -> Tensor:
        """The tensor the update is applied to: the param, or its fp32 master copy."""
        if not self.master_weights or param.dtype == torch.float32:
            return param
        state = self.state[param]
        if "master" not in state:
            state["master"] = Tensor(param.backend.cast(param.data, torch.float32), param.backend)
        return state["master"]

    def _step_group(self, group: dict[str, Any], params: list[Tensor], weights: list[Tensor],
                    grads: list[Any]) -> None:
        """Update `weights` (params or their masters) in place from `grads` (same dtype);
        per-parameter state is keyed by `params`."""
        raise NotImplementedError

    def _group_index(self, group: dict[str, Any]) -> int:
        return next(i for i, g in enumerate(self.param_groups) if g is group)

    def _advance(self, params: list[Tensor]) -> dict[tuple, float]:
        """For a captured step (`ttcustom.capture`): do `step()`'s host bookkeeping for
        `params` and return the per-step scalars its `dynamic()` markers name."""
        raise NotImplementedError(f"{type(self).__name__} cannot run in a captured step")

    # ------------------------------------------------------------------ state_dict
    def state_dict(self) -> dict[str, Any]:
        """torch layout: params replaced by their index; state keyed by that index."""
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            packed["params"] = [index.setdefault(id(p), len(index)) for p in group["params"]]
            groups.append(packed)
        state = {
            index[id(p)]: {k: (v.detach() if isinstance(v, Tensor) else v) for k, v in s.items()}
            for p, s in self.state.items()
            if id(p) in index
        }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError(f"optimizer state has {len(groups)} param groups, this optimizer "
                             f"has {len(self.param_groups)}")
        params: list[Tensor] = []
        for saved, own in zip(groups, self.param_groups):
            if len(saved["params"]) != len(own["params"]):
                raise ValueError(f"optimizer state group has {len(saved['params'])} params, this "
                                 f"optimizer's group has {len(own['params'])}")
            params.extend(own["params"])
            own.update({k: copy.deepcopy(v) for k, v in saved.items() if k != "params"})
        self.state = defaultdict(dict)
        for key, values in state_dict["state"].items():
            param = params[int(key)]
            self.state[param] = {k: _to_backend(v, param) for k, v in values.items()}


def _to_backend(value: Any, param: Tensor) -> Any:
    """Optimizer state values become Tensors on the param's backend (copied)."""
    backend = param.backend
    if isinstance(value, Tensor):
        value = value.to_torch()
    if isinstance(value, torch.Tensor):
        if value.dim() == 0:
            return value.item()
        return Tensor(backend.upload(value), backend)
    return value


def _cast(array: Any, dtype: torch.dtype, backend: Any) -> Any:
    return array if backend.dtype(array) == dtype else backend.cast(array, dtype)
