"""The benchmark suite: `python -m benchmarks` (or `ttcustom bench`).

For each workload (`scratch`, `lora`, `lora_wide`) it times every contender's training step in one
process (`step_speed`), measures each contender's peak memory in its own process
(`memory_probe`, CPU only), compares ttcustom's measured peak with the memory
planner's estimate, then times the hot ops (`ops`). Results go to a JSON file and, as a
dated markdown section, to the end of docs/benchmarks.md.

    python -m benchmarks                        # everything, full size (tens of minutes)
    python -m benchmarks --size tiny --no-markdown --json /tmp/smoke.json
"""

from __future__ import annotations

import argparse
import datetime
from collections.abc import Sequence
from pathlib import Path

from benchmarks import machine, ops, report, step_speed
from benchmarks.contenders import CONTENDERS
from benchmarks.memory_probe import REPO_ROOT, measure_peak
from benchmarks.workloads import WORKLOADS, Workload, get_workload

PARTS = (*WORKLOADS["full"], "ops")
DEFAULTS = {"full": {"steps": 2, "repeats": 5}, "tiny": {"steps": 1, "repeats": 2}}
OP_SAMPLE_SECONDS = {"full": 0.2, "tiny": 0.005}


def _ratios(table: dict[str, dict], key: str) -> None:
    """Add `<key>_vs_eager` to each entry (the figure divided by eager's)."""
    eager = table.get("eager", {}).get(key)
    for entry in table.values():
        if eager and entry.get(key) is not None:
            entry[key.removesuffix("_bytes") + "_vs_eager"] = round(entry[key] / eager, 3)


def bench_workload(workload: Workload, contenders: list[str], steps: int, repeats: int,
                   backend: str, memory: bool) -> dict:
    speed = step_speed.measure(workload, contenders, steps, repeats, backend)
    planned = workload.memory_plan()
    entry = {"title": workload.title, "batch": workload.batch, "seq": workload.shape.seq,
             "params": planned.parameters, "trainable_params": planned.trainable_parameters,
             "speed": speed}
    if memory:
        entry["memory"] = {c: measure_peak(workload, c, backend=backend) for c in contenders}
        _ratios(entry["memory"], "rss_peak_bytes")
        _ratios(entry["memory"], "tensor_peak_bytes")
        measured = entry["memory"].get("ttcustom")
        if measured is not None:
            entry["planner_peak_bytes"] = planned.peak
            entry["planner_vs_tensor_peak"] = round(
                planned.peak / measured["tensor_peak_bytes"], 3)
            entry["planner_vs_rss_peak"] = round(planned.peak / measured["rss_peak_bytes"], 3)
    return entry


def run(size: str, parts: Sequence[str], contenders: list[str], steps: int, repeats: int,
        backend: str = "cpu", memory: bool = True) -> dict:
    """Every requested part; the JSON-ready results."""
    results = {
        "created": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "size": size,
        "settings": {"steps": steps, "repeats": repeats, "warmup_steps": step_speed.WARMUP_STEPS,
                     "contenders": contenders, "backend": backend},
        "machine": machine.describe(backend),
        "workloads": {},
        "ops": [],
    }
    for name in parts:
        if name != "ops":
            results["workloads"][name] = bench_workload(
                get_workload(size, name), contenders, steps, repeats, backend, memory)
    if "ops" in parts:
        for name in WORKLOADS[size]:
            results["ops"] += ops.measure(get_workload(size, name), repeats, backend,
                                          OP_SAMPLE_SECONDS[size])
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks",
                                     description="ttcustom vs PyTorch eager / torch.compile / "
                                     "transformers: training-step speed, peak memory, op speed")
    parser.add_argument("--size", choices=list(DEFAULTS), default="full")
    parser.add_argument("--parts", default=",".join(PARTS),
                        help=f"comma-separated, from {PARTS}")
    parser.add_argument("--contenders", default=",".join(CONTENDERS),
                        help=f"comma-separated, from {CONTENDERS} (eager is the reference)")
    parser.add_argument("--steps", type=int, help="steps per timed repetition")
    parser.add_argument("--repeats", type=int, help="interleaved repetitions")
    parser.add_argument("--backend", default="cpu", help="ttcustom's backend: cpu, cuda, tt")
    parser.add_argument("--no-memory", action="store_true",
                        help="skip the per-process memory measurements")
    parser.add_argument("--json", type=Path, help="results file (default: "
                        "benchmarks/results/<date>-<backend>-<size>.json)")
    parser.add_argument("--markdown", type=Path, default=REPO_ROOT / "docs" / "benchmarks.md",
                        help="markdown file the results section is appended to")
    parser.add_argument("--no-markdown", action="store_true")
    args = parser.parse_args(argv)
    parts = args.parts.split(",")
    contenders = args.contenders.split(",")
    for given, allowed, flag in ((parts, PARTS, "--parts"), (contenders, CONTENDERS,
                                                             "--contenders")):
        unknown = sorted(set(given) - set(allowed))
        if unknown:
            parser.error(f"{flag}: unknown {unknown}; choose from {allowed}")
    defaults = DEFAULTS[args.size]
    results = run(args.size, parts, contenders, args.steps or defaults["steps"],
                  args.repeats or defaults["repeats"], args.backend,
                  memory=not args.no_memory and args.backend == "cpu")
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = args.json or REPO_ROOT / "benchmarks" / "results" / \
        f"{stamp}-{args.backend}-{args.size}.json"
    report.write_json(results, path)
    text = report.markdown(results)
    print(text)
    print(f"results: {path}")
    if not args.no_markdown:
        report.append_markdown(results, args.markdown)
        print(f"appended to {args.markdown}")
    return 0


__all__ = ["main", "run"]
