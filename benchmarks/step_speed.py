"""Training-step speed of each contender on one workload, in one process.

All runners are built from the same weights and fed the same batches with the same
torch threads. Repetitions are interleaved (ttcustom, eager, compile, ..., then again)
so drift in machine speed (other jobs on a shared machine) hits all of them; each
repetition times `steps` consecutive steps and the reported figure is the median.

    python -m benchmarks.step_speed --workload scratch --contenders ttcustom,eager
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from benchmarks.contenders import CONTENDERS, Runner, build, reference_state
from benchmarks.device_memory import device_memory_in_use
from benchmarks.workloads import Batch, Workload, get_workload, make_batches

WARMUP_STEPS = 2  # torch.compile compiles forward and backward during the first step


def _timed(runner: Runner, batches: list[Batch], steps: int, offset: int) -> float:
    """Seconds per step over `steps` steps (the device drained at both ends)."""
    sync = runner.backend.synchronize if runner.backend is not None else (lambda: None)
    sync()
    start = time.perf_counter()
    for i in range(steps):
        runner.step(batches[(offset + i) % len(batches)])
    sync()
    return (time.perf_counter() - start) / steps


def measure(workload: Workload, contenders: list[str], steps: int, repeats: int,
            backend: str = "cpu") -> dict:
    """Median step time and tokens/s per contender, ratios against eager, and for
    ttcustom the host transfers per step and device memory (where the backend says)."""
    state = reference_state(workload)
    runners = [build(name, workload, state, backend) for name in contenders]
    del state
    batches = make_batches(workload, max(steps, 2))
    for runner in runners:
        for i in range(WARMUP_STEPS):
            runner.step(batches[i % len(batches)])
    samples: dict[str, list[float]] = {r.name: [] for r in runners}
    for repeat in range(repeats):
        for runner in runners:
            samples[runner.name].append(_timed(runner, batches, steps, repeat))
    results = {}
    for runner in runners:
        seconds = statistics.median(samples[runner.name])
        results[runner.name] = {
            "step_time_s": round(seconds, 5),
            "tokens_per_s": round(workload.tokens_per_step / seconds, 1),
            "samples_s": [round(s, 5) for s in samples[runner.name]],
            "trainable_params": runner.trainable,
        }
        if runner.backend is not None:
            results[runner.name].update(_device_facts(runner, batches))
    if "eager" in results:
        eager = results["eager"]["tokens_per_s"]
        for entry in results.values():
            entry["tokens_per_s_vs_eager"] = round(entry["tokens_per_s"] / eager, 3)
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
    parser.add_argument("--workload", default="scratch", choices=["scratch", "lora"])
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
