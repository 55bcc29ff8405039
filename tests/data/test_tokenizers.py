"""Tokenizers for from-scratch training, saved and re-loaded through transformers."""

import json

import pytest
from transformers import AutoTokenizer

from ttcustom.data import (
    build_tokenizer,
    byte_tokenizer,
    char_tokenizer,
    load_tokenizer,
    save_tokenizer,
    train_bpe_tokenizer,
)

TEXT = "ROMEO:\nBut, soft! what light through yonder window breaks?\nJULIET: Ay me! é\n"


def test_byte_tokenizer_ids_are_utf8_bytes():
    tok = byte_tokenizer()
    ids = tok.encode(TEXT, add_special_tokens=False)
    assert ids == list(TEXT.encode("utf-8"))
    assert len(tok) == 256
    assert tok.decode(ids) == TEXT


def test_char_tokenizer_round_trips_and_maps_unseen_chars_to_unk():
    tok = char_tokenizer(TEXT)
    ids = tok.encode(TEXT, add_special_tokens=False)
    assert len(ids) == len(TEXT) and tok.decode(ids) == TEXT
    assert len(tok) == len(set(TEXT)) + 1
    assert tok.encode("Z", add_special_tokens=False) == [tok.unk_token_id]


def test_bpe_tokenizer_learns_merges_and_round_trips(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(TEXT * 50)
    tok = train_bpe_tokenizer([corpus], vocab_size=300)
    ids = tok.encode(TEXT, add_special_tokens=False)
    assert len(ids) < len(TEXT.encode("utf-8"))
    assert tok.decode(ids) == TEXT
    assert tok.eos_token == tok.bos_token == tok.pad_token == "<|endoftext|>"


def test_saved_tokenizers_load_with_auto_tokenizer_and_name_a_portable_class(tmp_path):
    for name, tok in {"byte": byte_tokenizer(), "char": char_tokenizer(TEXT)}.items():
        save_tokenizer(tok, tmp_path / name)
        config = json.loads((tmp_path / name / "tokenizer_config.json").read_text())
        assert config["tokenizer_class"] == "PreTrainedTokenizerFast"
        again = AutoTokenizer.from_pretrained(str(tmp_path / name))
        assert again.encode(TEXT, add_special_tokens=False) == tok.encode(TEXT, add_special_tokens=False)


def test_load_tokenizer_names_the_directory_when_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        load_tokenizer(tmp_path)


def test_build_tokenizer_char_reads_the_corpus(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text("abcab")
    assert len(build_tokenizer("char", corpus=[corpus])) == 4
