"""Tokenizers: load a model directory's, or build one for from-scratch training.

Every tokenizer here is a `transformers` fast tokenizer, so it saves as `tokenizer.json`
next to exported weights and loads with `AutoTokenizer` (and in vLLM):

- `byte_tokenizer()`: vocab 256, id == byte value (Nano-Trickster's "character level").
- `char_tokenizer(text)`: one id per distinct character of a corpus, plus `<unk>`.
- `train_bpe_tokenizer(files, vocab_size)`: byte-level BPE trained with `tokenizers`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

TOKENIZER_KINDS = ("pretrained", "byte", "char", "bpe")
ENDOFTEXT = "<|endoftext|>"


def load_tokenizer(path: str | Path) -> Any:
    """`AutoTokenizer.from_pretrained(path)` with an error naming the directory; a
    `.gguf` file's own tokenizer and chat template."""
    from transformers import AutoTokenizer

    from ttcustom.models.gguf import is_gguf, load_gguf_tokenizer

    if is_gguf(path):
        return load_gguf_tokenizer(path)
    path = Path(path)
    if not (path / "tokenizer.json").exists() and not (path / "tokenizer_config.json").exists():
        raise FileNotFoundError(
            f"no tokenizer in {path} (expected tokenizer.json or tokenizer_config.json); "
            "point `data.tokenizer.path` (or --tokenizer) at a model directory")
    return AutoTokenizer.from_pretrained(str(path))


def save_tokenizer(tokenizer: Any, out_dir: str | Path) -> None:
    """Save so that older transformers (e.g. in a vLLM install) load it too."""
    out_dir = Path(out_dir)
    tokenizer.save_pretrained(str(out_dir))
    config_path = out_dir / "tokenizer_config.json"
    config = json.loads(config_path.read_text())
    if config.get("tokenizer_class") == "TokenizersBackend":
        config["tokenizer_class"] = "PreTrainedTokenizerFast"
        config_path.write_text(json.dumps(config, indent=2) + "\n")


def _wrap(tokenizer: Tokenizer, **special: str) -> Any:
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, **special)


def _byte_to_unicode() -> dict[int, str]:
    """GPT-2's reversible map from bytes to printable characters (ByteLevel's alphabet)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    mapping = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in mapping:
            mapping[b] = chr(256 + extra)
            extra += 1
    return mapping


def byte_tokenizer() -> Any:
    """Byte-level tokenizer with exactly 256 ids (id == byte value) and no special tokens."""
    vocab = {char: byte for byte, char in _byte_to_unicode().items()}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tok.decoder = decoders.ByteLevel()
    return _wrap(tok)


def char_tokenizer(text: str, unk_token: str = "<unk>") -> Any:
    """One id per distinct character of `text` (sorted), id 0 = `unk_token`."""
    chars = sorted(set(text))
    vocab = {unk_token: 0, **{c: i + 1 for i, c in enumerate(chars)}}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token=unk_token))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    tok.decoder = decoders.Fuse()
    return _wrap(tok, unk_token=unk_token)


def train_bpe_tokenizer(files: Iterable[str | Path], vocab_size: int,
                        special_tokens: tuple[str, ...] = (ENDOFTEXT,)) -> Any:
    """Byte-level BPE trained on text files; the first special token is BOS, EOS and pad."""
    paths = [str(p) for p in files]
    for path in paths:
        if not Path(path).is_file():
            raise FileNotFoundError(f"BPE training corpus {path} does not exist")
    if vocab_size < 256 + len(special_tokens):
        raise ValueError(f"BPE vocab_size {vocab_size} is below 256 bytes + "
                         f"{len(special_tokens)} special tokens")
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(special_tokens),
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train(paths, trainer)
    first = special_tokens[0]
    return _wrap(tok, bos_token=first, eos_token=first, pad_token=first)


def build_tokenizer(kind: str, path: str | Path | None = None,
                    corpus: Iterable[str | Path] = (), vocab_size: int | None = None) -> Any:
    """A tokenizer of `kind` (one of TOKENIZER_KINDS) from a directory or a corpus."""
    if kind == "pretrained":
        if path is None:
            raise ValueError("tokenizer kind 'pretrained' needs a path to a model directory")
        return load_tokenizer(path)
    if kind == "byte":
        return byte_tokenizer()
    files = list(corpus)
    if not files:
        raise ValueError(f"tokenizer kind {kind!r} is built from a text corpus; give data.corpus")
    if kind == "char":
        return char_tokenizer("".join(Path(f).read_text(encoding="utf-8") for f in files))
    if kind == "bpe":
        if vocab_size is None:
            raise ValueError("tokenizer kind 'bpe' needs a vocab_size")
        return train_bpe_tokenizer(files, vocab_size)
    raise ValueError(f"unknown tokenizer kind {kind!r}; choose one of {TOKENIZER_KINDS}")
