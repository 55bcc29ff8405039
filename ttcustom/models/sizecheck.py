"""Refuse a model that cannot fit in host memory before allocating any of it.

A config.json with `hidden_size: 1000000000` or a million layers would otherwise
allocate (or build modules) for minutes before failing; the memory planner's parameter
count (a one-block model built on its shape-only backend) turns that into one
line naming the sizes.
"""

from __future__ import annotations

import os

import torch

from ttcustom.models.config import ConfigError, ModelConfig


def available_memory() -> int | None:
    """Bytes of host memory available now (MemAvailable), or None when unknown."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def parameter_count(config: ModelConfig) -> int:
    """Parameters of the model `config` describes, from a one-block model built on the
    shape backend (nothing is allocated, however large the config)."""
    from ttcustom.backends.shapes import ShapeBackend
    from ttcustom.models.registry import model_class
    from ttcustom.nn import init

    backend = ShapeBackend()
    with backend.host_on_meta(), init.skip_init():
        model = model_class(config.model_type)(config.replace(num_hidden_layers=1),
                                               dtype=torch.bfloat16, backend=backend)
    block = sum(p.numel() for p in model.layers[0].parameters())
    return sum(p.numel() for p in model.parameters()) + (config.num_hidden_layers - 1) * block


def check_model_fits(config: ModelConfig, dtype: torch.dtype | None, source: str = "the config",
                     available: int | None = None) -> int:
    """The model's parameter bytes; ConfigError if they exceed the available memory."""
    params = parameter_count(config)
    itemsize = dtype.itemsize if dtype is not None else 2  # the smallest default (bfloat16)
    need = params * itemsize
    available = available_memory() if available is None else available
    if available is not None and need > available:
        raise ConfigError(
            f"{source}: the config describes {params:,} parameters ({need / 2**30:.1f} GiB "
            f"at {itemsize} bytes each) but only {available / 2**30:.1f} GiB of memory is "
            f"available (hidden_size={config.hidden_size}, num_hidden_layers="
            f"{config.num_hidden_layers}, vocab_size={config.vocab_size}); check those sizes")
    return need


__all__ = ["available_memory", "check_model_fits"]
