"""Render recorded rule violations (TT_RULES_RECORD=path pytest ...) as a markdown table.

    TT_RULES_RECORD=/tmp/v.jsonl python -m pytest tests/tt ...
    python -m tests.tt.rules.report /tmp/v.jsonl > violations.md
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict


def render(lines: list[str]) -> str:
    """One row per (op, rule, call site), with the tests that hit it and the call count."""
    rows: dict[tuple[str, str, str, str], dict] = defaultdict(lambda: {"tests": set(), "n": 0})
    for line in lines:
        v = json.loads(line)
        row = rows[(v["op"], v["rule"], v["source"], v["site"])]
        row["tests"].add(v["test"])
        row["n"] += 1
    tests = {t for row in rows.values() for t in row["tests"]}
    out = [f"{sum(r['n'] for r in rows.values())} violating calls in {len(tests)} tests, "
           f"{len(rows)} distinct (op, rule, call site)", "",
           "| op | rule | source | backend call site | calls | tests |",
           "| --- | --- | --- | --- | --- | --- |"]
    for (op, rule, source, site), row in sorted(rows.items()):
        names = sorted(row["tests"])
        shown = ", ".join(f"`{t}`" for t in names[:3]) + (f" (+{len(names) - 3})" if len(names) > 3 else "")
        out.append(f"| {op} | `{rule}` | {source} | {site} | {row['n']} | {shown} |")
    out += ["", "Tests:", *[f"- `{t}`" for t in sorted(tests)]]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    with open(sys.argv[1]) as handle:
        sys.stdout.write(render(handle.readlines()))
