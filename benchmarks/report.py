"""Results as JSON, and as a markdown section appended to docs/benchmarks.md."""

from __future__ import annotations

import json
from pathlib import Path


def _mib(nbytes: int | None) -> str:
    return "-" if nbytes is None else f"{nbytes / 2**20:,.0f} MiB"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def markdown(results: dict) -> str:
    """One dated section: machine, training-step table, op table, planner check."""
    m, settings = results["machine"], results["settings"]
    lines = [
        f"### {results['created']} · {m['backend']['backend']} · {results['size']} size",
        "",
        f"Machine: {m['cpu']}, {m['cores_available']} cores available, "
        f"{m['memory_gib']} GiB RAM, load average {m['load_average_at_start']} at start; "
        f"torch {m['torch']} ({m['torch_threads']} threads), Python {m['python']}, "
        f"ttcustom {m['ttcustom']} @ {m['git_commit']}.",
        f"Timing: median of the quiet rounds among {settings['repeats']} interleaved "
        f"repetitions of {settings['steps']} step(s) after {settings['warmup_steps']} warm-up "
        "steps (a round is busy when other processes used over 10% of a core during it; "
        "'rounds' says how many counted; `!` marks a figure from busy rounds only). "
        "One-off: warm-up time beyond steady steps (compilation, capture). "
        "Memory: each contender alone in a fresh process (see `benchmarks/memory_probe.py`).",
        "",
        "| workload | contender | step time | rounds | tokens/s | vs eager | one-off "
        "| host time/step | peak RSS | vs eager | tensor peak | vs eager |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, entry in results["workloads"].items():
        for contender, speed in entry["speed"].items():
            memory = entry.get("memory", {}).get(contender, {})
            flag = "" if speed.get("trusted", True) else " !"
            host = speed.get("host_s_per_step")
            lines.append(
                f"| {name} | {contender} | {speed['step_time_s'] * 1e3:,.0f} ms{flag} "
                f"| {speed.get('rounds_counted', '-')}/{speed.get('rounds', '-')} "
                f"| {speed['tokens_per_s']:,.0f} | {_ratio(speed.get('tokens_per_s_vs_eager'))} "
                f"| {speed.get('one_off_s', 0):.1f} s "
                f"| {'-' if host is None else f'{host * 1e3:.1f} ms'} "
                f"| {_mib(memory.get('rss_peak_bytes'))} "
                f"| {_ratio(memory.get('rss_peak_vs_eager'))} "
                f"| {_mib(memory.get('tensor_peak_bytes'))} "
                f"| {_ratio(memory.get('tensor_peak_vs_eager'))} |")
    lines.append("")
    for name, entry in results["workloads"].items():
        for ours in ("captured", "ttcustom"):
            vs = entry["speed"].get(ours, {}).get("tokens_per_s_vs")
            if vs:
                ratios = ", ".join(f"{_ratio(r)} {other}" for other, r in vs.items()
                                   if other != ours)
                lines.append(f"- {name}, {ours} tokens/s: {ratios}.")
    lines.append("")
    for name, entry in results["workloads"].items():
        ours = entry["speed"].get("ttcustom", {})
        facts = [f"{entry['title']}: {entry['trainable_params']:,} trainable of "
                 f"{entry['params']:,} parameters, batch {entry['batch']} x {entry['seq']}"]
        if "uploads_per_step" in ours:
            facts.append(f"ttcustom uploads {ours['uploads_per_step']} and reads back "
                         f"{ours['host_readbacks_per_step']} array(s) per step")
        if "device_memory_sampled_peak_bytes" in ours:
            facts.append(f"device memory {_mib(ours['device_memory_sampled_peak_bytes'])}")
        if entry.get("planner_vs_tensor_peak") is not None:
            facts.append(f"planner estimate {_mib(entry['planner_peak_bytes'])} = "
                         f"{entry['planner_vs_tensor_peak']:.3f} x measured tensor peak, "
                         f"{entry['planner_vs_rss_peak']:.3f} x peak RSS")
        lines.append(f"- {name}: " + "; ".join(facts) + ".")
    if results["ops"]:
        lines += ["", "| op | workload shapes | ttcustom | eager | eager time / ttcustom time |",
                  "| --- | --- | ---: | ---: | ---: |"]
        for op in results["ops"]:
            lines.append(f"| {op['op']} | {op['workload']}: {op['shape']} "
                         f"| {op['ttcustom_ms']:.3f} ms | {op['eager_ms']:.3f} ms "
                         f"| {_ratio(op['speed_vs_eager'])} |")
    return "\n".join(lines) + "\n"


def write_json(results: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")


def append_markdown(results: dict, path: Path) -> None:
    with path.open("a", encoding="utf-8") as f:
        f.write("\n" + markdown(results))


__all__ = ["append_markdown", "markdown", "write_json"]
