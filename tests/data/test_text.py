"""Plain-text corpora: 90/10 split and fixed-length blocks."""

import pytest

from ttcustom.data import chunk_text, read_corpus, split_text


def test_split_is_ninety_ten_by_characters():
    train, val = split_text("x" * 90 + "y" * 10)
    assert train == "x" * 90 and val == "y" * 10


def test_blocks_are_consecutive_and_labels_equal_ids(byte_tok):
    blocks = chunk_text("abcdefghij", byte_tok, block_size=4)
    assert [b.input_ids for b in blocks] == [[97, 98, 99, 100], [101, 102, 103, 104]]
    assert all(b.labels == b.input_ids for b in blocks)


def test_missing_corpus_says_where_to_get_tiny_shakespeare(tmp_path):
    with pytest.raises(FileNotFoundError, match="tinyshakespeare"):
        read_corpus(tmp_path / "input.txt")


def test_text_shorter_than_a_block_is_an_error(byte_tok):
    with pytest.raises(ValueError, match="fewer than one block"):
        chunk_text("abc", byte_tok, block_size=8)
