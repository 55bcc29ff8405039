"""Backend selection: argument > `TTCUSTOM_BACKEND` env var > "auto".

"auto" picks tt only when `ttnn` imports and a Tenstorrent card is found, then CUDA
when torch sees a GPU, else the CPU. Backends are opened once and cached by name.
"""

from __future__ import annotations

import os

from ttcustom.backends.base import Array, Backend, TransferCounter
from ttcustom.backends.reference import ReferenceBackend

BACKEND_NAMES = ("auto", "tt", "cpu", "cuda")
ENV_VAR = "TTCUSTOM_BACKEND"

_opened: dict[str, Backend] = {}
_default: Backend | None = None


MOCK_CLUSTER_VAR = "TT_METAL_MOCK_CLUSTER_DESC_PATH"


def tt_card_present() -> bool:
    """True when ttnn imports and reports at least one real device (a mock cluster is not)."""
    if os.environ.get(MOCK_CLUSTER_VAR):
        return False
    try:
        import ttnn
    except Exception:
        return False
    try:
        return ttnn.GetNumAvailableDevices() > 0
    except Exception:
        return False


def resolve_name(name: str | None = None) -> str:
    """The concrete backend name ("tt", "cpu" or "cuda[:N]") for a requested name."""
    requested = (name or os.environ.get(ENV_VAR) or "auto").strip().lower()
    kind = requested.split(":")[0]
    if kind not in BACKEND_NAMES:
        source = "argument" if name else f"environment variable {ENV_VAR}"
        raise ValueError(
            f"unknown backend {requested!r} (from the {source}); choose one of {BACKEND_NAMES}"
        )
    if kind != "auto":
        return requested
    if tt_card_present():
        return "tt"
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def get_backend(name: str | Backend | None = None) -> Backend:
    """The opened backend for `name` (see module docstring); opens it on first use."""
    if isinstance(name, Backend):
        return name
    if name is None and _default is not None:
        return _default
    concrete = resolve_name(name)
    if concrete not in _opened:
        _opened[concrete] = _open(concrete)
    return _opened[concrete]


def _open(concrete: str) -> Backend:
    if concrete == "tt":
        from ttcustom.backends.tt import TTBackend

        return TTBackend()
    from ttcustom.backends.reference import is_available

    if not is_available(concrete):
        raise RuntimeError(
            f"backend {concrete!r} requested but torch sees no such device; "
            f"use 'cpu' or set {ENV_VAR}=cpu"
        )
    return ReferenceBackend(concrete)


def set_default_backend(name: str | Backend | None) -> Backend | None:
    """Make `name` the backend of new tensors and modules (None: back to selection)."""
    global _default
    _default = None if name is None else get_backend(name)
    return _default


def close_all() -> None:
    """Close every opened backend (registered at exit)."""
    for backend in _opened.values():
        backend.close()
    _opened.clear()


__all__ = [
    "Array",
    "BACKEND_NAMES",
    "Backend",
    "ReferenceBackend",
    "TransferCounter",
    "get_backend",
    "resolve_name",
    "set_default_backend",
    "close_all",
    "tt_card_present",
]
