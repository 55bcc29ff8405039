"""The device rules of every op the tt backend calls, applied to one golden-mode call.

Rules come from the wheel's sources (extracted.json, paired with Python by mapping.py) and,
for ops whose sources are not shipped, from unshipped.py. `check` returns the rules a call
breaks; the harness fails the test with each rule's text and source. With the environment
variable TT_RULES_RECORD set to a path, violations are recorded there (one JSON object per
line, by conftest.py at session end) instead of failing, to list them all in one run.
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ttnn

from tests.tt.rules.extract import HELPER_OP, TABLE
from tests.tt.rules.mapping import MAPPING
from tests.tt.rules.predicates import Call, Check, Interpret, Skip, interpret
from tests.tt.rules.unshipped import HAND_RULES

SOURCES = "site-packages/ttnn/ttnn/cpp/ttnn/operations/"


@dataclass(frozen=True)
class Rule:
    """One rule as enforced: where it comes from, what it says, how it is checked."""

    op: str
    text: str
    source: str
    check: Check | None
    skip: str = ""
    condition: str = ""
    origin: str = "source"  # "source" (extracted), "binary" (hand-kept), "harness"


def _extracted() -> tuple[dict[str, list[Rule]], list[dict]]:
    """Extracted rules by op, and the rules no mapping entry covers."""
    rules: dict[str, list[Rule]] = {}
    unmapped, seen = [], set()
    for entry in json.loads(Path(TABLE).read_text()):
        if (entry["op"], entry["key"]) in seen:  # one rule written in several files
            continue
        seen.add((entry["op"], entry["key"]))
        mapped = MAPPING.get(entry["op"], {}).get(entry["key"])
        if mapped is None:
            unmapped.append(entry)
            continue
        check = interpret(entry["key"], mapped) if isinstance(mapped, Interpret) else \
            mapped if isinstance(mapped, Check) else None
        skip = mapped.reason if isinstance(mapped, Skip) else ""
        source = f"{SOURCES}{entry['file']}:{entry['line']}"
        text = entry["message"] or entry["condition"]
        rules.setdefault(entry["op"], []).append(
            Rule(entry["op"], text, source, check, skip, entry["condition"]))
    return rules, unmapped


def _hand() -> dict[str, list[Rule]]:
    rules: dict[str, list[Rule]] = {}
    for row in HAND_RULES:
        source = f"{row.binary}: {row.source}" if row.binary else row.source
        for op in row.ops:
            rules.setdefault(op, []).append(
                Rule(op, row.message, source, row.check,
                     origin="harness" if row.harness else "binary"))
    return rules


EXTRACTED, UNMAPPED = _extracted()
RULES: dict[str, list[Rule]] = {op: EXTRACTED.get(op, []) + _hand().get(op, [])
                                for op in set(EXTRACTED) | set(_hand()) if op != HELPER_OP}

INTERLEAVED = Rule("*", "the harness emulates interleaved memory configs only", "harness: "
                   "sharded layouts are not emulated, so their device rules are not checked",
                   None, origin="harness")


def _interleaved(call: Call) -> bool:
    configs = [v for k, v in call.params.items() if k.endswith("memory_config") and v is not None]
    return all(c.memory_layout == ttnn.TensorMemoryLayout.INTERLEAVED for c in configs)


def check(call: Call, after: bool = False) -> list[Rule]:
    """The rules `call` breaks: input rules, or with `after` those about its result."""
    broken = [] if after or _interleaved(call) else [INTERLEAVED]
    for rule in RULES.get(call.name, ()):
        if rule.check is not None and rule.check.after == after and not rule.check.predicate(call):
            broken.append(rule)
    return broken


def describe(call: Call, rule: Rule) -> str:
    """The failure message: the op, the rule, its source, where the backend called it."""
    condition = f" [{rule.condition}]" if rule.condition and rule.condition != rule.text else ""
    return (f"ttnn.{call.name} breaks a ttnn 0.81.1 device rule: {rule.text!r}{condition} "
            f"({rule.source}); called from {call_site()}")


def call_site() -> str:
    """The innermost ttcustom frame of the current stack: where the backend made the call."""
    frame = sys._getframe(1)
    while frame is not None:
        path = frame.f_code.co_filename.replace(os.sep, "/")
        if "/ttcustom/" in path:
            return f"{path[path.rindex('/ttcustom/') + 1:]}:{frame.f_lineno} ({frame.f_code.co_name})"
        frame = frame.f_back
    return "outside ttcustom"


RECORD_PATH = os.environ.get("TT_RULES_RECORD")
RECORDED: list[dict[str, Any]] = []
SESSION_BROKEN: Counter[tuple[str, str]] = Counter()


def enforce(call: Call, after: bool = False) -> list[str]:
    """Messages for the rules `call` breaks (recorded instead where TT_RULES_RECORD is set)."""
    messages = []
    for rule in check(call, after):
        SESSION_BROKEN[(call.name, rule.text)] += 1
        if RECORD_PATH:
            RECORDED.append({"test": os.environ.get("PYTEST_CURRENT_TEST", "").split(" ")[0],
                             "op": call.name, "rule": rule.text, "source": rule.source,
                             "site": call_site()})
        else:
            messages.append(describe(call, rule))
    return messages


def coverage(called: set[str]) -> dict[str, Counter[str]]:
    """Per called op, rule counts: enforced from the sources, reasoned out of them
    ("skipped"), hand-kept from the binaries, harness-only."""
    report: dict[str, Counter[str]] = {}
    for op in sorted(called):
        counts: Counter[str] = Counter()
        for rule in RULES.get(op, ()):
            kind = "skipped" if rule.check is None else \
                {"source": "enforced", "binary": "hand", "harness": "harness"}[rule.origin]
            counts[kind] += 1
        report[op] = counts
    return report
