"""`load_jsonl_dataset` reports every bad line with its number and kind."""

import json

import pytest

from ttcustom.data import DataValidationError, load_jsonl_dataset

from .conftest import FIXTURES


def kinds(report):
    return [(issue.line, issue.kind) for issue in report.issues]


def test_every_error_kind_is_reported_once_with_its_line(byte_tok):
    report = load_jsonl_dataset(FIXTURES / "every_error.jsonl", tokenizer=byte_tok, max_length=96)
    assert kinds(report) == [
        (2, "invalid_json"),
        (3, "missing_field"),
        (4, "empty_field"),
        (5, "wrong_type"),
        (6, "duplicate"),
        (8, "too_long"),
        (9, "wrong_type"),
    ]
    assert not report.ok
    assert [ex.line for ex in report.examples] == [1, 10]


def test_report_names_the_fields_and_the_first_occurrence(byte_tok):
    report = load_jsonl_dataset(FIXTURES / "every_error.jsonl", tokenizer=byte_tok, max_length=96)
    text = report.format_report()
    assert "every_error.jsonl:3: error: missing_field: missing field 'response'" in text
    assert "every_error.jsonl:6: error: duplicate: same record as line 1" in text
    assert "9 records, 2 valid, 7 errors" in text
    assert "field 'prompt' must be a string, got a number" in text
    assert "tokens histogram:" in text


def test_chat_records_are_checked_turn_by_turn(byte_tok):
    report = load_jsonl_dataset(FIXTURES / "chat_errors.jsonl", tokenizer=byte_tok)
    assert report.format == "chat"
    assert kinds(report) == [
        (2, "wrong_type"),
        (3, "invalid_value"),
        (4, "missing_field"),
        (5, "missing_field"),
        (6, "empty_field"),
    ]


def test_chat_files_validate_without_a_tokenizer():
    report = load_jsonl_dataset(FIXTURES / "chat_errors.jsonl")
    assert len(report.issues) == 5 and report.lengths == [len("Hi") + len("Hello!")]


def test_truncation_turns_too_long_into_a_count(byte_tok, tmp_path):
    path = tmp_path / "long.jsonl"
    path.write_text(json.dumps({"prompt": "Q", "response": "x" * 200}) + "\n")
    report = load_jsonl_dataset(path, tokenizer=byte_tok, max_length=64, truncate=True)
    assert report.ok and report.truncated == 1
    assert len(report.examples[0].input_ids) == 64


def test_a_prompt_that_fills_max_length_is_an_error_even_when_truncating(byte_tok, tmp_path):
    path = tmp_path / "long_prompt.jsonl"
    path.write_text(json.dumps({"prompt": "p" * 200, "response": "short"}) + "\n")
    report = load_jsonl_dataset(path, tokenizer=byte_tok, max_length=64, truncate=True)
    assert kinds(report) == [(1, "too_long")]


def test_duplicates_can_be_allowed_as_warnings(byte_tok, tmp_path):
    path = tmp_path / "dup.jsonl"
    line = json.dumps({"text": "same"})
    path.write_text(f"{line}\n{line}\n")
    report = load_jsonl_dataset(path, tokenizer=byte_tok, allow_duplicates=True)
    assert report.ok and len(report.examples) == 2
    assert [issue.severity for issue in report.issues] == ["warning"]


def test_unknown_fields_make_an_unknown_format_error(tmp_path):
    path = tmp_path / "odd.jsonl"
    path.write_text(json.dumps({"question": "?", "answer": "!"}) + "\n")
    report = load_jsonl_dataset(path)
    assert kinds(report) == [(1, "unknown_format")]
    assert "prompt_response: prompt, response" in report.issues[0].message


def test_an_explicit_format_checks_against_its_fields(tmp_path):
    path = tmp_path / "alpaca.jsonl"
    path.write_text(json.dumps({"prompt": "?", "response": "!"}) + "\n")
    report = load_jsonl_dataset(path, fmt="alpaca")
    assert kinds(report) == [(1, "missing_field"), (1, "missing_field")]


def test_empty_file_is_an_error(tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_text("\n")
    assert kinds(load_jsonl_dataset(path)) == [(0, "no_examples")]


def test_validation_error_carries_the_report(byte_tok):
    report = load_jsonl_dataset(FIXTURES / "every_error.jsonl", tokenizer=byte_tok, max_length=96)
    with pytest.raises(DataValidationError, match="every_error.jsonl:2: error: invalid_json"):
        raise DataValidationError(report)


def test_without_tokenizer_lengths_are_characters():
    report = load_jsonl_dataset(FIXTURES / "every_error.jsonl")
    assert report.length_unit == "characters"
    first = "### Question:\nWhat is a tensor?\n\n### Answer:\nA box of numbers with a shape."
    assert report.lengths[0] == len(first)
