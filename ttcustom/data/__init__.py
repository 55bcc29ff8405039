"""Datasets for training: JSONL formats, validation, tokenization, packing, batching.

A batch is a `Batch` of host tensors (readable like a dict): `input_ids` and `labels`
(int64, labels IGNORE_INDEX where the loss is masked, unshifted) and `attention_mask`
([B, S] padding mask, [B, 1, S, S] bool block-diagonal causal mask for packed rows, or
None when nothing is masked), plus `num_tokens` and `num_targets`.
"""

from ttcustom.data.collate import Batch, Collator, packed_attention_mask
from ttcustom.data.encode import IGNORE_INDEX, encode_segments, encode_text
from ttcustom.data.formats import (
    DEFAULT_CHAT_TEMPLATE,
    FORMAT_NAMES,
    PROMPT_RESPONSE_TEMPLATE,
    Segment,
    detect_format,
    format_prompt,
    render_segments,
)
from ttcustom.data.loader import DataLoader
from ttcustom.data.packing import PackedExample, pack_examples
from ttcustom.data.sampler import ShuffleSampler
from ttcustom.data.text import chunk_text, read_corpus, split_text
from ttcustom.data.tokenizers import (
    TOKENIZER_KINDS,
    build_tokenizer,
    byte_tokenizer,
    char_tokenizer,
    load_tokenizer,
    save_tokenizer,
    train_bpe_tokenizer,
)
from ttcustom.data.validate import (
    DataReport,
    DataValidationError,
    Example,
    Issue,
    load_jsonl_dataset,
    read_jsonl,
)

__all__ = [
    "DEFAULT_CHAT_TEMPLATE",
    "FORMAT_NAMES",
    "IGNORE_INDEX",
    "PROMPT_RESPONSE_TEMPLATE",
    "TOKENIZER_KINDS",
    "Batch",
    "Collator",
    "DataLoader",
    "DataReport",
    "DataValidationError",
    "Example",
    "Issue",
    "PackedExample",
    "Segment",
    "ShuffleSampler",
    "build_tokenizer",
    "byte_tokenizer",
    "char_tokenizer",
    "chunk_text",
    "detect_format",
    "encode_segments",
    "encode_text",
    "format_prompt",
    "load_jsonl_dataset",
    "load_tokenizer",
    "pack_examples",
    "packed_attention_mask",
    "read_corpus",
    "read_jsonl",
    "render_segments",
    "save_tokenizer",
    "split_text",
    "train_bpe_tokenizer",
]
