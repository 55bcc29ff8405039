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
