"""Fixtures for data tests: real `transformers` tokenizers built locally (no downloads)."""

from pathlib import Path

import pytest

from ttcustom.data import byte_tokenizer

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def byte_tok():
    return byte_tokenizer()


@pytest.fixture
def eos_byte_tok():
    """Byte-level tokenizer with an extra <|endoftext|> used as BOS/EOS/pad."""
    tok = byte_tokenizer()
    tok.add_special_tokens({"eos_token": "<|endoftext|>", "bos_token": "<|endoftext|>",
                            "pad_token": "<|endoftext|>"})
    return tok
