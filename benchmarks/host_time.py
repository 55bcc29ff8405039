"""Host (Python) time of one ttcustom training step: the step's wall time minus the
time spent inside backend primitives, or inside a captured step's compiled program.

What remains is the autograd engine, module and op bookkeeping, argument checks and
the optimizer's host loop: the per-step cost that capture removes. Kernels running
inside a primitive count as device time (on the CPU they run on the calling thread).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from benchmarks.contenders import Runner
from benchmarks.workloads import Batch


def _timed(call: Callable[..., Any], spent: list[float], depth: list[int]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if depth[0]:
            return call(*args, **kwargs)
        depth[0] += 1
        start = time.perf_counter()
        try:
            return call(*args, **kwargs)
        finally:
            spent[0] += time.perf_counter() - start
            depth[0] -= 1

    return wrapper


def host_seconds(runner: Runner, batch: Batch) -> float:
    """Seconds of one `runner.step(batch)` spent outside primitives / compiled programs."""
    backend = runner.backend
    spent, depth = [0.0], [0]
    names = backend.primitives()
    for name in names:
        setattr(backend, name, _timed(getattr(backend, name), spent, depth))
    entries = [] if runner.captured is None else [
        e for e in runner.captured._entries.values() if isinstance(e, dict)]
    originals = [e["runner"] for e in entries]
    for entry in entries:
        entry["runner"] = _timed(entry["runner"], spent, depth)
    try:
        start = time.perf_counter()
        runner.step(batch)
        wall = time.perf_counter() - start
    finally:
        for name in names:
            backend.__dict__.pop(name, None)
        for entry, original in zip(entries, originals):
            entry["runner"] = original
    return max(0.0, wall - spent[0])


__all__ = ["host_seconds"]
