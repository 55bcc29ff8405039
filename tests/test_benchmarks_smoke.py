"""The benchmark suite runs end to end at tiny size and writes its results (no timing checks)."""

from __future__ import annotations

import json

import pytest

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
    assert set(results["workloads"]) == {"scratch", "lora"}
    for entry in results["workloads"].values():
        assert set(entry["speed"]) == {"ttcustom", "eager"}
        assert all(s["tokens_per_s"] > 0 for s in entry["speed"].values())
    lora = results["workloads"]["lora"]
    assert lora["trainable_params"] < lora["params"]
    assert {op["op"] for op in results["ops"]} >= {"linear fwd+bwd", "AdamW step"}
    assert results["machine"]["torch_threads"] >= 1


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
