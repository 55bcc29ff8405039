"""ttcustom: PyTorch-style training on Tenstorrent devices, with a torch reference backend."""

from torch import bfloat16, float32, int32, int64

from ttcustom import backends, functional, nn, optim  # noqa: E402,I001  (need the names above)
from ttcustom.autograd import Function, Tensor, enable_grad, is_grad_enabled, no_grad
from ttcustom.backends import get_backend, set_default_backend
from ttcustom.capture import compile_step
from ttcustom.creation import arange, from_torch, full, ones, randn, tensor, zeros
from ttcustom.random import manual_seed

__version__ = "0.1.0"

# Subpackages with heavier imports (transformers, torch.distributed, plotting) load on
# first use: `tc.models.from_hf(...)` works without paying for them at `import ttcustom`.
_LAZY_SUBMODULES = ("data", "distributed", "export", "generation", "lora", "memory", "models",
                    "train")


def __getattr__(name: str):
    if name in _LAZY_SUBMODULES:
        import importlib

        return importlib.import_module(f"ttcustom.{name}")
    raise AttributeError(f"module 'ttcustom' has no attribute {name!r}")

__all__ = [
    "Function",
    "Tensor",
    "arange",
    "backends",
    "bfloat16",
    "compile_step",
    "enable_grad",
    "float32",
    "from_torch",
    "full",
    "functional",
    "get_backend",
    "int32",
    "int64",
    "is_grad_enabled",
    "manual_seed",
    "nn",
    "no_grad",
    "ones",
    "optim",
    "randn",
    "set_default_backend",
    "tensor",
    "zeros",
]
