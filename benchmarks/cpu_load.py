"""Whether other processes used the CPU while a round was timed (Linux /proc).

A round's figure is trustworthy only if this process had the cores to itself: from
/proc/stat (busy jiffies of the whole machine) and /proc/self/stat (this process's
own user + system time, all threads) taken at both ends, the CPU time spent by
*other* processes during the round is their difference. A round where others used
more than `threshold` of one core is flagged busy. Where /proc is missing (not Linux)
every round counts and `other_cpu_s` is None.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

#: CPU time of other processes, as a fraction of the round's wall time, that makes a round busy
BUSY_THRESHOLD = 0.10

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _machine_busy_ticks() -> int | None:
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return user + nice + system + irq + softirq + steal


def _own_ticks() -> int | None:
    try:
        text = Path("/proc/self/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)


@dataclass
class Round:
    """A timed round: wall seconds, this process's CPU seconds (all threads) and other
    processes' CPU seconds (None: unknown)."""

    wall_s: float
    own_cpu_s: float
    other_cpu_s: float | None

    def busy(self, threshold: float = BUSY_THRESHOLD) -> bool:
        return self.other_cpu_s is not None and self.other_cpu_s > threshold * self.wall_s


class Watch:
    """`with Watch() as w: ...` then `w.round` (a `Round`)."""

    def __enter__(self) -> Watch:
        self._machine, self._own = _machine_busy_ticks(), _own_ticks()
        self._start, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        wall = time.perf_counter() - self._start
        cpu = time.process_time() - self._cpu
        machine, own = _machine_busy_ticks(), _own_ticks()
        other = None
        if None not in (machine, own, self._machine, self._own):
            other = max(0, (machine - self._machine) - (own - self._own)) / _TICK
        self.round = Round(wall, cpu, other)


__all__ = ["BUSY_THRESHOLD", "Round", "Watch"]
