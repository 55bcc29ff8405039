"""Hostile JSONL: every problem is an issue with its line number, in bounded memory."""

import json
import resource

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ttcustom.data import load_jsonl_dataset
from ttcustom.data.validate import read_jsonl

GOOD = json.dumps({"prompt": "What is 2+2?", "response": "4"})


def write(tmp_path, *lines: bytes):
    path = tmp_path / "data.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def issues(path, **options):
    report = load_jsonl_dataset(path, **options)
    return [(i.line, i.kind, i.message) for i in report.issues]


@pytest.mark.parametrize("line,message", [
    (b'{"prompt": "a", "prompt": "b", "response": "c"}', "duplicate key 'prompt'"),
    (b'{"prompt": "\\ud800", "response": "x"}', "lone UTF-16 surrogate"),
    (b'{"prompt": "caf\xe9", "response": "x"}', "not UTF-8 at byte 16 of the line"),
    (b'{"prompt": NaN, "response": "x"}', "NaN is not valid JSON"),
    (b"[" * 100_000 + b"]" * 100_000, "nested"),
    (b'{"prompt": ' + b'{"a": ' * 70 + b"1" + b"}" * 70 + b', "response": "x"}',
     "nested deeper than 64 levels"),
])
def test_a_bad_line_is_an_issue_naming_its_line(tmp_path, line, message):
    found = issues(write(tmp_path, GOOD.encode(), line))
    assert [(n, kind) for n, kind, _ in found] == [(2, "invalid_json")]
    assert message in found[0][2]


def test_a_lone_surrogate_never_reaches_the_tokenizer(tmp_path, byte_tok):
    path = write(tmp_path, GOOD.encode(), b'{"prompt": "\\udfff x", "response": "y"}')
    report = load_jsonl_dataset(path, tokenizer=byte_tok, max_length=64)
    assert [(i.line, i.kind) for i in report.issues] == [(2, "invalid_json")]
    assert len(report.examples) == 1


def test_a_50_mb_line_is_reported_without_being_held_in_memory(tmp_path, byte_tok):
    path = tmp_path / "data.jsonl"
    with path.open("wb") as handle:
        handle.write(GOOD.encode() + b"\n")
        handle.write(b'{"prompt": "' + b"x" * (50 * 2**20) + b'", "response": "y"}\n')
        handle.write(json.dumps({"prompt": "2", "response": "3"}).encode() + b"\n")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    report = load_jsonl_dataset(path, tokenizer=byte_tok, max_length=64)
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert [(i.line, i.kind) for i in report.issues] == [(2, "too_long")]
    assert "over the 8388608-byte line limit" in report.issues[0].message
    assert [ex.line for ex in report.examples] == [1, 3]
    assert grown_mib < 40  # the line was skipped in 1 MiB chunks, never decoded


def test_the_report_names_file_and_line(tmp_path):
    path = write(tmp_path, GOOD.encode(), b"\xff\xfe")
    text = load_jsonl_dataset(path).format_report()
    assert f"{path}:2: error: invalid_json: not UTF-8" in text


def test_a_utf8_byte_order_mark_is_accepted(tmp_path):
    path = write(tmp_path, b"\xef\xbb\xbf" + GOOD.encode())
    assert load_jsonl_dataset(path).ok


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.binary(max_size=40) | st.sampled_from([GOOD.encode(), b"{", b"\xff", b"[]",
                                                           b'{"text": "\\ud834"}']), max_size=6))
def test_fuzzed_lines_give_issues_not_exceptions(tmp_path, lines):
    path = tmp_path / "fuzz.jsonl"
    path.write_bytes(b"\n".join(line.replace(b"\n", b" ") for line in lines))
    records, found = read_jsonl(path, max_line_bytes=32)
    numbers = [n for n, _ in records] + [i.line for i in found]
    assert len(numbers) == len(set(numbers)) and all(1 <= n <= max(len(lines), 1) for n in numbers)
    for _, value in records:
        json.dumps(value).encode("utf-8")  # nothing unencodable got through
    report = load_jsonl_dataset(path)
    assert report.ok or report.issues
