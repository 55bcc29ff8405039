"""Parameter initialisers with torch.nn.init's names and its RNG use.

Values are drawn on the host by torch.nn.init itself (so a seeded ttcustom model starts
from the same numbers as the same torch model) and copied onto the backend.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator

import torch

from ttcustom.autograd.tensor import Tensor

_enabled = True


@contextlib.contextmanager
def skip_init() -> Iterator[None]:
    """Inside, initialisers leave tensors as they are (zeros from construction).

    For modules whose values are loaded from a checkpoint right after: drawing and
    uploading every weight first would double the work of loading a large model.
    """
    global _enabled
    previous, _enabled = _enabled, False
    try:
        yield
    finally:
        _enabled = previous


def _init_(tensor: Tensor, fill: Callable[[torch.Tensor], object]) -> Tensor:
    if not _enabled:
        return tensor
    host = torch.empty(tensor.shape, dtype=torch.float32)
    fill(host)
    return tensor.copy_(host)


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0) -> Tensor:
    return _init_(tensor, lambda t: torch.nn.init.uniform_(t, a, b))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0) -> Tensor:
    return _init_(tensor, lambda t: torch.nn.init.normal_(t, mean, std))


def trunc_normal_(tensor: Tensor, mean=0.0, std=1.0, a=-2.0, b=2.0) -> Tensor:
    return _init_(tensor, lambda t: torch.nn.init.trunc_normal_(t, mean, std, a, b))


def constant_(tensor: Tensor, value: float) -> Tensor:
    return _init_(tensor, lambda t: torch.nn.init.constant_(t, value))


def zeros_(tensor: Tensor) -> Tensor:
    return constant_(tensor, 0.0)


def ones_(tensor: Tensor) -> Tensor:
    return constant_(tensor, 1.0)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    return _init_(tensor, lambda t: torch.nn.init.xavier_uniform_(t, gain))


def xavier_normal_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    return _init_(tensor, lambda t: torch.nn.init.xavier_normal_(t, gain))


def kaiming_uniform_(tensor: Tensor, a: float = 0.0, mode="fan_in", nonlinearity="leaky_relu"):
    return _init_(tensor, lambda t: torch.nn.init.kaiming_uniform_(t, a, mode, nonlinearity))


def kaiming_normal_(tensor: Tensor, a: float = 0.0, mode="fan_in", nonlinearity="leaky_relu"):
    return _init_(tensor, lambda t: torch.nn.init.kaiming_normal_(t, a, mode, nonlinearity))


def linear_default_(weight: Tensor, bias: Tensor | None) -> None:
    """torch.nn.Linear.reset_parameters: kaiming_uniform(a=sqrt(5)) and a fan-in bias."""
    kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        bound = 1.0 / math.sqrt(weight.shape[1]) if weight.shape[1] > 0 else 0.0
        uniform_(bias, -bound, bound)
