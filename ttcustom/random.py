"""Seeding: one call makes initialisation, dropout and data order repeatable."""

from __future__ import annotations

import random as _py_random

import numpy as np
import torch

_generator = torch.Generator().manual_seed(0)


def manual_seed(seed: int) -> None:
    """Seed torch (used for parameter init), numpy, Python and ttcustom's dropout seeds."""
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    _py_random.seed(seed)
    _generator.manual_seed(seed)


def next_seed() -> int:
    """A fresh seed for one dropout call, drawn from the seeded host generator."""
    return int(torch.randint(0, 2**62, (1,), generator=_generator).item())


def get_rng_state() -> dict:
    """Everything `manual_seed` seeds, for checkpoints."""
    return {
        "torch": torch.get_rng_state(),
        "numpy": np.random.get_state(),
        "python": _py_random.getstate(),
        "ttcustom": _generator.get_state(),
    }


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    _py_random.setstate(state["python"])
    _generator.set_state(state["ttcustom"])
