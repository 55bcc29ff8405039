"""Fixtures of the tt suites. ttnn is imported lazily: each test module skips itself
with pytest.importorskip("ttnn") where it is not installed (the Python 3.11 env)."""

from __future__ import annotations

import sys

import pytest


@pytest.fixture
def golden_backend():
    """A TTBackend whose ttnn calls run as golden functions on the host (one N150)."""
    from tests.tt.golden import GoldenTTNN
    from ttcustom.backends.tt import TTBackend

    backend = TTBackend(ttnn=GoldenTTNN())
    yield backend
    backend.close()


@pytest.fixture
def reference_backend():
    import ttcustom as tc

    return tc.get_backend("cpu")


def pytest_terminal_summary(terminalreporter):
    """Golden-function coverage of the ops the tt backend called in this session."""
    golden = sys.modules.get("tests.tt.golden")  # imported only where ttnn is
    if golden is None or not golden.SESSION_CALLS:
        return
    used = sorted(golden.SESSION_CALLS)
    harness = sorted(golden.SESSION_HARNESS_GOLDENS)
    write = terminalreporter.write_line
    terminalreporter.section("tt golden-function coverage")
    write(f"ttnn ops called: {len(used)}; with Tenstorrent's golden function: "
          f"{len(used) - len(harness)}; golden written in tests/tt/golden.py: {len(harness)}")
    write(f"  without a usable ttnn golden: {', '.join(harness) or '-'}")
    write(f"  ops: {', '.join(used)}")
    _rule_coverage(terminalreporter, set(used))


def _rule_coverage(terminalreporter, called: set[str]) -> None:
    """Per op the backend called: the ttnn device rules the harness enforced (tests/tt/rules)."""
    from tests.tt.rules import enforce

    write = terminalreporter.write_line
    terminalreporter.section("tt device-rule coverage (ttnn 0.81.1)")
    write("per op: enforced from the wheel's sources / reasoned out of them (skipped) / "
          "hand-kept from its binaries / harness-only; [broken: calls that broke a rule]")
    for op, counts in enforce.coverage(called).items():
        broken = sum(n for (name, _), n in enforce.SESSION_BROKEN.items() if name == op)
        write(f"  {op}: {counts['enforced']} / {counts['skipped']} / {counts['hand']} / "
              f"{counts['harness']}" + (f" [broken: {broken}]" if broken else ""))
    bare = sorted(op for op, counts in enforce.coverage(called).items() if not counts)
    write(f"  ops without a rule: {', '.join(bare) or '-'}")
    write("  each rule and how it is checked: python -m tests.tt.rules.report --rules")
    if enforce.UNMAPPED:
        write(f"  extracted rules without a mapping: {len(enforce.UNMAPPED)} "
              "(see tests/tt/rules/test_rules.py)")


def pytest_sessionfinish(session):
    """With TT_RULES_RECORD set, write the recorded rule violations (one JSON per line)."""
    enforce = sys.modules.get("tests.tt.rules.enforce")
    if enforce is None or not enforce.RECORD_PATH:
        return
    import json

    with open(enforce.RECORD_PATH, "w") as out:
        for violation in enforce.RECORDED:
            out.write(json.dumps(violation) + "\n")
