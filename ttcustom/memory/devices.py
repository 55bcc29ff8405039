"""Tenstorrent systems the planner checks a run against: chips and DRAM per chip.

Data parallel replicates the model on every chip, so what must fit is the per-chip
plan with `world_size` = the system's chip count. Not all DRAM is free for tensors
(firmware, program cache, allocator alignment): `USABLE_FRACTION` is held back.
"""

from __future__ import annotations

from dataclasses import dataclass

GIB = 1 << 30
#: share of a chip's DRAM the planner lets a run use; the rest is headroom
USABLE_FRACTION = 0.9


@dataclass(frozen=True)
class System:
    name: str
    chips: int
    dram_per_chip: int  # bytes
    description: str

    @property
    def usable_per_chip(self) -> int:
        return int(self.dram_per_chip * USABLE_FRACTION)


SYSTEMS: dict[str, System] = {
    s.name: s
    for s in (
        System("n150", 1, 12 * GIB, "Wormhole n150: 1 chip, 12 GB"),
        System("n300", 2, 12 * GIB, "Wormhole n300: 2 chips, 2x12 GB"),
        System("p100", 1, 28 * GIB, "Blackhole p100: 1 chip, 28 GB"),
        System("p150", 1, 32 * GIB, "Blackhole p150: 1 chip, 32 GB"),
        System("t3k", 8, 12 * GIB, "T3000 / LoudBox: 4 n300, 8 chips x 12 GB"),
        System("galaxy", 32, 12 * GIB, "Galaxy: 32 Wormhole chips x 12 GB"),
    )
}


def get_system(name: str) -> System:
    """The system called `name` (case-insensitive), or an error listing the known ones."""
    try:
        return SYSTEMS[name.lower()]
    except KeyError:
        raise ValueError(f"unknown system {name!r}; known: {', '.join(SYSTEMS)}") from None


__all__ = ["GIB", "SYSTEMS", "USABLE_FRACTION", "System", "get_system"]
