"""One autograd engine for every backend: `Tensor`, `Function`, grad modes."""

from ttcustom.autograd.function import Function, enable_grad, is_grad_enabled, no_grad
from ttcustom.autograd.tensor import Tensor

__all__ = ["Function", "Tensor", "enable_grad", "is_grad_enabled", "no_grad"]
