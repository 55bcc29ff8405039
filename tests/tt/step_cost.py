"""The pinned configs' step cost on the golden tt backend (benchmarks/tt_cost.py)."""

from __future__ import annotations

from benchmarks import tt_cost
from ttcustom.backends.tt.cost import StepCost


def layer_cost(name: str) -> tuple[StepCost, StepCost]:
    """`benchmarks.tt_cost.layer_cost` through the golden harness."""
    from tests.tt.golden import GoldenTTNN

    return tt_cost.layer_cost(name, GoldenTTNN)
