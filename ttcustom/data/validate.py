"""Read, check and tokenize a JSONL dataset in one pass, with a report of every bad line.

`load_jsonl_dataset` is what both `ttcustom data validate` and the trainer run: the CLI
prints the report, the trainer refuses to start when the report has errors.

Error kinds (stable codes): invalid_json, wrong_type, missing_field, empty_field,
invalid_value, unknown_format, too_long, duplicate, no_examples.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ttcustom import safejson
from ttcustom.data.encode import IGNORE_INDEX, encode_segments
from ttcustom.data.formats import (
    FORMAT_NAMES,
    FORMATS,
    RecordProblem,
    check_record,
    detect_format,
    render_segments,
)


@dataclass(frozen=True)
class Issue:
    line: int
    kind: str
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        """`LINE: severity: kind: message`; prefixed with the path it reads like a compiler's."""
        return f"{self.line}: {self.severity}: {self.kind}: {self.message}"


@dataclass
class Example:
    """One tokenized record: ids, labels (IGNORE_INDEX on masked tokens), source line."""

    input_ids: list[int]
    labels: list[int]
    line: int = 0


@dataclass
class DataReport:
    path: str
    format: str | None
    format_source: str
    issues: list[Issue] = field(default_factory=list)
    examples: list[Example] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)
    length_unit: str = "characters"
    max_length: int | None = None
    truncated: int = 0
    records: int = 0

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "error"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def format_report(self, max_issues: int | None = None) -> str:
        """Human-readable report: every issue (or the first `max_issues`) and the stats."""
        valid = len(self.examples) if self.length_unit == "tokens" else len(self.lengths)
        head = (f"{self.path}: format {self.format or 'unknown'} ({self.format_source}), "
                f"{self.records} records, {valid} valid, {len(self.errors)} errors, "
                f"{len(self.issues) - len(self.errors)} warnings")
        shown = self.issues if max_issues is None else self.issues[:max_issues]
        lines = [head, *(f"  {self.path}:{issue}" for issue in shown)]
        if len(shown) < len(self.issues):
            lines.append(f"  ... and {len(self.issues) - len(shown)} more")
        if self.lengths:
            lines += self._stats()
        return "\n".join(lines)

    def _stats(self) -> list[str]:
        lengths = self.lengths
        limit = f", max_length {self.max_length}" if self.max_length else ""
        lines = [f"{self.length_unit} per example: min {min(lengths)}, "
                 f"mean {statistics.fmean(lengths):.1f}, max {max(lengths)}{limit}; "
                 f"{self.truncated} truncated"]
        if self.examples:
            trained = sum(sum(1 for t in ex.labels if t != IGNORE_INDEX) for ex in self.examples)
            total = sum(len(ex.input_ids) for ex in self.examples)
            lines.append(f"tokens: {total} in total, {trained} with loss (not masked)")
        lines.append(f"{self.length_unit} histogram:")
        lines += [f"  {row}" for row in length_histogram(lengths)]
        return lines


class DataValidationError(ValueError):
    """Raised by the trainer when a dataset has errors; carries the full report."""

    def __init__(self, report: DataReport) -> None:
        self.report = report
        super().__init__(report.format_report(max_issues=50) +
                         f"\nfix these lines (check with `ttcustom data validate {report.path}`)")


def length_histogram(lengths: list[int], bins: int = 8, width: int = 40) -> list[str]:
    """Text histogram rows "[lo, hi)  ####  count" over equal-width bins."""
    low, high = min(lengths), max(lengths) + 1
    step = max(1, -(-(high - low) // bins))
    counts: dict[int, int] = {}
    for value in lengths:
        start = low + (value - low) // step * step
        counts[start] = counts.get(start, 0) + 1
    peak = max(counts.values())
    pad = len(str(high + step))
    return [f"[{start:>{pad}}, {start + step:>{pad}}) {'#' * max(1, round(width * n / peak)):<{width}} {n}"
            for start, n in sorted(counts.items())]


#: longest JSONL line read (bytes); longer lines are reported without being held whole
MAX_LINE_BYTES = 8 * 1024 * 1024


def read_jsonl(path: str | Path, max_line_bytes: int = MAX_LINE_BYTES
               ) -> tuple[list[tuple[int, Any]], list[Issue]]:
    """(line number, parsed value) for each non-blank line, and an issue per unparsable line.

    Streams the file in binary: a line longer than `max_line_bytes` is skipped in chunks
    (bounded memory), and encoding problems, duplicate keys, deep nesting and lone
    surrogates are issues with their line number instead of exceptions.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"dataset file {path} does not exist")
    records, issues = [], []
    with path.open("rb") as handle:
        number = 0
        while raw := handle.readline(max_line_bytes + 1):
            number += 1
            if len(raw) > max_line_bytes and not raw.endswith(b"\n"):
                size = len(raw) + _skip_line(handle)
                issues.append(Issue(number, "too_long", f"the line has {size} bytes, over the "
                                    f"{max_line_bytes}-byte line limit; split the record"))
                continue
            if not raw.strip():
                continue
            try:
                text = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as err:
                issues.append(Issue(number, "invalid_json", f"not UTF-8 at byte {err.start + 1} "
                                    "of the line; save the file as UTF-8"))
                continue
            try:
                records.append((number, safejson.parse(text)))
            except safejson.JSONInputError as err:
                issues.append(Issue(number, "invalid_json", str(err)))
    return records, issues


def _skip_line(handle: Any, chunk: int = 1 << 20) -> int:
    """Read past the rest of the current line; the number of bytes skipped."""
    skipped = 0
    while block := handle.readline(chunk):
        skipped += len(block)
        if block.endswith(b"\n"):
            break
    return skipped


def load_jsonl_dataset(
    path: str | Path,
    fmt: str = "auto",
    tokenizer: Any = None,
    max_length: int | None = None,
    *,
    truncate: bool = False,
    allow_duplicates: bool = False,
    train_on_prompt: bool = False,
    prompt_template: str | None = None,
) -> DataReport:
    """Check every line of a JSONL file; with a tokenizer, also tokenize and length-check.

    Over-long examples are errors unless `truncate` (then cut to `max_length` and
    counted); repeated records are errors unless `allow_duplicates` (then warnings).
    """
    records, issues = read_jsonl(path)
    fmt, source = _resolve_format(fmt, records)
    report = DataReport(str(path), fmt, source, issues=issues, max_length=max_length,
                        length_unit="tokens" if tokenizer is not None else "characters",
                        records=len(records) + len(issues))
    if fmt is None:
        report.issues += [Issue(line, "unknown_format", _unknown_format_message(value))
                          for line, value in records[:1]]
    else:
        seen: dict[str, int] = {}
        for line, record in records:
            _check_line(report, line, record, fmt, seen, tokenizer, truncate, allow_duplicates,
                        train_on_prompt, prompt_template)
    if not records:
        report.issues.append(Issue(0, "no_examples", "the file holds no JSON lines"))
    report.issues.sort(key=lambda issue: issue.line)
    return report


def _resolve_format(fmt: str, records: list[tuple[int, Any]]) -> tuple[str | None, str]:
    if fmt != "auto":
        if fmt not in FORMATS:
            raise ValueError(f"unknown data format {fmt!r}; choose one of auto, {', '.join(FORMAT_NAMES)}")
        return fmt, "given"
    for line, record in records:
        if isinstance(record, dict):
            found = detect_format(record)
            return found, f"detected from line {line}" if found else f"undetectable at line {line}"
    return None, "no JSON object found"


def _unknown_format_message(value: Any) -> str:
    keys = ", ".join(sorted(value)) if isinstance(value, dict) else "none"
    options = "; ".join(f"{name}: {', '.join(spec.required)}" for name, spec in FORMATS.items())
    return (f"cannot tell the format from the fields ({keys}); use one of these field sets "
            f"({options}) or pass the format explicitly")


def _check_line(report: DataReport, line: int, record: Any, fmt: str, seen: dict[str, int],
                tokenizer: Any, truncate: bool, allow_duplicates: bool, train_on_prompt: bool,
                prompt_template: str | None) -> None:
    problems: list[RecordProblem] = check_record(record, fmt)
    if problems:
        report.issues += [Issue(line, p.kind, p.message) for p in problems]
        return
    key = json.dumps({k: record.get(k) for k in FORMATS[fmt].required + FORMATS[fmt].optional},
                     sort_keys=True)
    if key in seen:
        severity = "warning" if allow_duplicates else "error"
        report.issues.append(Issue(line, "duplicate", f"same record as line {seen[key]}", severity))
        if not allow_duplicates:
            return
    seen.setdefault(key, line)
    if tokenizer is None:
        report.lengths.append(_characters(record, fmt, prompt_template))
        return
    segments = render_segments(record, fmt, tokenizer, prompt_template)
    ids, labels = encode_segments(tokenizer, segments, train_on_prompt, add_eos=fmt != "chat")
    report.lengths.append(len(ids))
    limit = report.max_length
    if limit is not None and len(ids) > limit:
        if not truncate:
            report.issues.append(Issue(line, "too_long", f"{len(ids)} tokens > max_length {limit} "
                                       "(shorten it, raise the limit, or allow truncation)"))
            return
        ids, labels = ids[:limit], labels[:limit]
        report.truncated += 1
        if all(t == IGNORE_INDEX for t in labels[1:]):
            report.issues.append(Issue(line, "too_long", f"the prompt alone fills max_length "
                                       f"{limit}, so truncation leaves nothing to train on"))
            return
    report.examples.append(Example(ids, labels, line))


def _characters(record: dict, fmt: str, prompt_template: str | None) -> int:
    """Rendered length in characters (chat: the turns' text; its template needs a tokenizer)."""
    if fmt == "chat":
        return sum(len(message["content"]) for message in record["messages"])
    return sum(len(s.text) for s in render_segments(record, fmt, None, prompt_template))
