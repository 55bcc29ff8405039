"""Markdown reports: recorded rule violations, or every rule the harness knows per op.

    TT_RULES_RECORD=/tmp/v.jsonl python -m pytest tests/tt ...
    python -m tests.tt.rules.report /tmp/v.jsonl > violations.md
    python -m tests.tt.rules.report --rules          # each op's rules: how each is checked
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


def rules_table() -> str:
    """Every rule of every op, with how the harness checks it (or why it does not)."""
    from tests.tt.rules.enforce import RULES

    out = []
    for op in sorted(RULES):
        out += [f"## {op}", "", "| rule | source | checked |", "| --- | --- | --- |"]
        for rule in RULES[op]:
            how = f"no: {rule.skip}" if rule.check is None else \
                "yes (after the call)" if rule.check.after else "yes"
            out.append(f"| `{rule.text}` | {rule.source} | {how}"
                       + (" (harness)" if rule.origin == "harness" else "") + " |")
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    if sys.argv[1] == "--rules":
        sys.stdout.write(rules_table())
    else:
        with open(sys.argv[1]) as handle:
            sys.stdout.write(render(handle.readlines()))
