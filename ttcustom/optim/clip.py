"""`clip_grad_norm_`, computed and applied on the device (no host read-back)."""

from __future__ import annotations

from collections.abc import Iterable

from ttcustom.autograd.function import no_grad
from ttcustom.autograd.tensor import Tensor


@no_grad()
def clip_grad_norm_(parameters: Iterable[Tensor] | Tensor, max_norm: float,
                    norm_type: float = 2.0) -> Tensor:
    """Scale grads so their joint norm is at most `max_norm`; returns the norm before.

    Same formula as torch: grads *= min(1, max_norm / (total_norm + 1e-6)).
    """
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    grads = [p.grad.data for p in params if p.grad is not None]
    if not grads:
        raise ValueError("clip_grad_norm_: no parameter has a gradient; call backward() first")
    backend = params[0].backend
    total = backend.global_norm(grads, float(norm_type))
    coef = backend.clamp(backend.div(backend.full((), float(max_norm), backend.dtype(total)),
                                     backend.add(total, 1e-6)), max=1.0)
    backend.scale_(grads, coef)
    return Tensor(total, backend)
