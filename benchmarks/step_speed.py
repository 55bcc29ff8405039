"""Training-step speed of each contender on one workload, in one process.

All runners are built from the same weights and fed the same batches with the same
torch threads. Repetitions are interleaved (ttcustom, eager, compile, ..., then again)
so drift in machine speed hits all of them; each repetition times `steps` consecutive
steps and the reported figure is the median of the rounds that had the CPU to
themselves (`cpu_load`: a round during which other processes used more than 10% of a
core is busy and left out; when every round was busy, all count and the entry says
`"trusted": false`). The time of the warm-up steps (capture and compilation happen
there) and, for ttcustom, the host (Python) time of a step are reported too.

    python -m benchmarks.step_speed --workload scratch --contenders ttcustom,eager
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from benchmarks.contenders import CONTENDERS, Runner, build, reference_state
from benchmarks.cpu_load import Round, Watch
from benchmarks.device_memory import device_memory_in_use
from benchmarks.host_time import host_seconds
from benchmarks.workloads import WORKLOADS, Batch, Workload, get_workload, make_batches

#: torch.compile compiles during the first step; a captured step records and compiles in
#: its second (the first creates the optimizer state)
WARMUP_STEPS = 2


def _timed(runner: Runner, batches: list[Batch], steps: int, offset: int) -> Round:
    """One round of `steps` steps (the device drained at both ends)."""
    sync = runner.backend.synchronize if runner.backend is not None else (lambda: None)
    sync()
    with Watch() as watch:
        for i in range(steps):
            runner.step(batches[(offset + i) % len(batches)])
        sync()
    return watch.round


def _summary(rounds: list[Round], steps: int) -> dict:
    """Median seconds per step over the quiet rounds (all rounds when none was quiet)."""
    quiet = [r for r in rounds if not r.busy()]
    counted = quiet or rounds
    return {"step_time_s": statistics.median(r.wall_s for r in counted) / steps,
            "rounds": len(rounds), "rounds_counted": len(quiet), "trusted": bool(quiet),
            "samples_s": [round(r.wall_s / steps, 5) for r in rounds],
            # CPU time of this process per step: less disturbed by other load than wall time
            "cpu_s_per_step": round(statistics.median(r.own_cpu_s for r in counted) / steps, 5),
            "other_cpu_share": [None if r.other_cpu_s is None else
                                round(r.other_cpu_s / r.wall_s, 3) for r in rounds]}


def measure(workload: Workload, contenders: list[str], steps: int, repeats: int,
            backend: str = "cpu") -> dict:
    """Median step time and tokens/s per contender, ratios against eager, and for
    ttcustom the host transfers per step and device memory (where the backend says)."""
    state = reference_state(workload)
    runners = [build(name, workload, state, backend) for name in contenders]
    del state
    batches = make_batches(workload, max(steps, 2))
    warmup = {}
    for runner in runners:
        start = time.perf_counter()
        for i in range(WARMUP_STEPS):
            runner.step(batches[i % len(batches)])
        warmup[runner.name] = time.perf_counter() - start
    samples: dict[str, list[Round]] = {r.name: [] for r in runners}
    for repeat in range(repeats):
        for runner in runners:
            samples[runner.name].append(_timed(runner, batches, steps, repeat))
    results = {}
    for runner in runners:
        entry = _summary(samples[runner.name], steps)
        seconds = entry["step_time_s"]
        results[runner.name] = {
            **entry, "step_time_s": round(seconds, 5),
            "tokens_per_s": round(workload.tokens_per_step / seconds, 1),
            "trainable_params": runner.trainable,
            # what the warm-up steps cost beyond steady steps: compilation, capture
            "one_off_s": round(max(0.0, warmup[runner.name] - WARMUP_STEPS * seconds), 3),
        }
        if runner.backend is not None:
            results[runner.name].update(_device_facts(runner, batches))
            results[runner.name]["host_s_per_step"] = round(host_seconds(runner, batches[0]), 5)
    for entry in results.values():
        entry["tokens_per_s_vs"] = {other: round(entry["tokens_per_s"] / o["tokens_per_s"], 3)
                                    for other, o in results.items()}
        if "eager" in results:
            entry["tokens_per_s_vs_eager"] = entry["tokens_per_s_vs"]["eager"]
    return results


def _device_facts(runner: Runner, batches: list[Batch]) -> dict:
    """Host<->device transfers of one more step, and the device memory in use after its
    forward and after the whole step (backends that report it; kernel-internal
    temporaries between the two samples are not seen)."""
    counter = runner.backend.transfers
    counter.reset()
    runner.memory_samples = []
    runner.step(batches[0])
    samples = runner.memory_samples + [device_memory_in_use(runner.backend)]
    runner.memory_samples = None
    facts = {"uploads_per_step": counter.uploads, "host_readbacks_per_step": counter.downloads}
    if None not in samples:
        facts["device_memory_sampled_peak_bytes"] = max(samples)
    return facts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", default="scratch", choices=list(WORKLOADS["full"]))
    parser.add_argument("--size", default="full", choices=["full", "tiny"])
    parser.add_argument("--contenders", default="ttcustom,eager")
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--backend", default="cpu")
    args = parser.parse_args()
    contenders = args.contenders.split(",")
    unknown = set(contenders) - set(CONTENDERS)
    if unknown:
        parser.error(f"unknown contenders {sorted(unknown)}; choose from {CONTENDERS}")
    workload = get_workload(args.size, args.workload)
    print(json.dumps(measure(workload, contenders, args.steps, args.repeats, args.backend),
                     indent=2))


if __name__ == "__main__":
    main()
