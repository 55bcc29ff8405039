"""Plain-text corpora for from-scratch training: read, split, cut into fixed-length blocks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ttcustom.data.validate import Example


def read_corpus(path: str | Path) -> str:
    """The whole file as text, with an error that says where corpora come from."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"text corpus {path} does not exist. ttcustom ships no corpus; for the tutorial's "
            "Nano-Trickster download tiny-shakespeare (input.txt of karpathy/char-rnn's "
            "data/tinyshakespeare) and set data.corpus to its path")
    text = path.read_text(encoding="utf-8")
    if not text.strip():
        raise ValueError(f"text corpus {path} is empty")
    return text


def split_text(text: str, train_fraction: float = 0.9) -> tuple[str, str]:
    """First `train_fraction` of the characters for training, the rest for validation."""
    if not 0.0 < train_fraction < 1.0:
        raise ValueError(f"train_fraction must be in (0, 1), got {train_fraction}")
    cut = int(len(text) * train_fraction)
    return text[:cut], text[cut:]


def chunk_text(text: str, tokenizer: Any, block_size: int) -> list[Example]:
    """Tokenize `text` once and cut it into consecutive blocks of `block_size` tokens.

    Every token is a target (labels == ids; the model shifts). A tail shorter than a
    block is dropped, so all blocks share one shape.
    """
    ids = tokenizer.encode(text, add_special_tokens=False)
    if len(ids) < block_size:
        raise ValueError(f"the text has {len(ids)} tokens, fewer than one block of {block_size}; "
                         "lower max_sequence_length or use a longer corpus")
    return [Example(ids[i:i + block_size], ids[i:i + block_size])
            for i in range(0, len(ids) - block_size + 1, block_size)]
