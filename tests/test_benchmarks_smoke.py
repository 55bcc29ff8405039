"""The benchmark suite runs end to end at tiny size and writes its results (no timing checks)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmarks.cpu_load import Round, Watch
from benchmarks.report import markdown
from benchmarks.suite import main as bench_main
from ttcustom.cli import main as cli_main

TINY = ["--size", "tiny", "--contenders", "ttcustom,eager", "--repeats", "1", "--no-markdown"]


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "results.json"
    assert bench_main([*TINY, "--no-memory", "--json", str(out)]) == 0
    return json.loads(out.read_text())


def test_suite_writes_step_and_op_results_as_json(results):
    assert set(results["workloads"]) == {"scratch", "lora", "lora_wide"}
    for entry in results["workloads"].values():
        assert set(entry["speed"]) == {"ttcustom", "eager"}
        assert all(s["tokens_per_s"] > 0 for s in entry["speed"].values())
    for name in ("lora", "lora_wide"):
        lora = results["workloads"][name]
        assert lora["trainable_params"] < lora["params"]
    assert {op["op"] for op in results["ops"]} >= {"linear fwd+bwd", "AdamW step"}
    assert results["machine"]["torch_threads"] >= 1


def test_each_figure_says_how_many_rounds_counted_and_what_was_paid_once(results):
    for entry in results["workloads"].values():
        for speed in entry["speed"].values():
            assert 0 <= speed["rounds_counted"] <= speed["rounds"] == 1
            assert speed["trusted"] == (speed["rounds_counted"] > 0)
            assert speed["one_off_s"] >= 0 and speed["cpu_s_per_step"] >= 0
        ours = entry["speed"]["ttcustom"]
        assert 0 < ours["host_s_per_step"] < ours["step_time_s"] * 10
        assert ours["tokens_per_s_vs"]["eager"] == ours["tokens_per_s_vs_eager"]


def test_a_round_is_busy_when_other_processes_used_the_cpu():
    assert Round(wall_s=1.0, own_cpu_s=1.0, other_cpu_s=0.5).busy()
    assert not Round(wall_s=1.0, own_cpu_s=1.0, other_cpu_s=0.05).busy()
    assert not Round(wall_s=1.0, own_cpu_s=1.0, other_cpu_s=None).busy()  # no /proc


def test_a_watch_sees_another_process_burning_cpu():
    burner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)
        with Watch() as watch:
            time.sleep(0.5)
    finally:
        burner.kill()
        burner.wait()
    assert watch.round.other_cpu_s is not None and watch.round.busy()


@pytest.mark.slow
def test_the_captured_contender_runs_compiled_and_reports_its_compile_time(tmp_path):
    out = tmp_path / "results.json"
    args = ["--size", "tiny", "--contenders", "ttcustom,captured", "--repeats", "1",
            "--no-markdown", "--no-memory", "--parts", "scratch", "--json", str(out)]
    assert bench_main(args) == 0
    captured = json.loads(out.read_text())["workloads"]["scratch"]["speed"]["captured"]
    assert captured["one_off_s"] > 0 and captured["tokens_per_s"] > 0
    assert (captured["uploads_per_step"], captured["host_readbacks_per_step"]) == (2, 1)


def test_a_ttcustom_step_uploads_the_batch_and_reads_back_only_the_loss(results):
    for entry in results["workloads"].values():
        ours = entry["speed"]["ttcustom"]
        assert (ours["uploads_per_step"], ours["host_readbacks_per_step"]) == (2, 1)


@pytest.mark.slow
def test_suite_measures_memory_and_appends_markdown(tmp_path):
    out, page = tmp_path / "results.json", tmp_path / "benchmarks.md"
    page.write_text("# Benchmarks\n")
    args = [*TINY[:-1], "--parts", "scratch", "--json", str(out), "--markdown", str(page)]
    assert bench_main(args) == 0
    results = json.loads(out.read_text())
    memory = results["workloads"]["scratch"]["memory"]
    assert set(memory) == {"ttcustom", "eager"}
    assert all(m["tensor_peak_bytes"] > 0 for m in memory.values())
    assert page.read_text() == "# Benchmarks\n\n" + markdown(results)


def test_ttcustom_bench_runs_the_suite(tmp_path):
    out = tmp_path / "results.json"
    assert cli_main(["bench", "--", *TINY, "--parts", "ops", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["ops"]


def test_the_library_never_imports_the_benchmarks_folder():
    """`ttcustom bench` runs benchmarks/ as a program; no module of the package imports it."""
    package = Path(__file__).parents[1] / "ttcustom"
    importers = []
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(name.split(".")[0] == "benchmarks" for name in names):
                importers.append(str(path.relative_to(package)))
    assert importers == []
