"""Segments -> token ids and labels (-100 where the loss is masked).

Training data and generation prompts go through `encode_text`, so a prompt at
inference starts exactly as it did in training (same BOS rule, same template).
"""

from __future__ import annotations

from typing import Any

from ttcustom.data.formats import Segment

IGNORE_INDEX = -100


def adds_bos(tokenizer: Any) -> bool:
    """Whether the tokenizer itself puts BOS before a text (`tokenizer(text)`), as
    transformers and vLLM do for a plain text prompt."""
    bos_id = tokenizer.bos_token_id
    return bos_id is not None and tokenizer.encode("a", add_special_tokens=True)[:1] == [bos_id]


def encode_text(tokenizer: Any, text: str, add_bos: bool = True) -> list[int]:
    """Ids of `text`, preceded by BOS when the tokenizer adds one to a text prompt (so
    training, samples and a served model see the same ids) and the text lacks it."""
    ids = tokenizer.encode(text, add_special_tokens=False)
    bos_id, bos_token = tokenizer.bos_token_id, tokenizer.bos_token
    if (add_bos and adds_bos(tokenizer) and not text.startswith(bos_token)
            and ids[:1] != [bos_id]):
        ids = [bos_id, *ids]
    return ids


def encode_segments(tokenizer: Any, segments: list[Segment], train_on_prompt: bool = False,
                    add_eos: bool = True) -> tuple[list[int], list[int]]:
    """Concatenate segment ids (BOS first, EOS after the last segment when `add_eos`).

    Labels equal the ids on trainable segments (and everywhere when `train_on_prompt`),
    IGNORE_INDEX elsewhere; they are *not* shifted (models shift inside, as in HF).
    """
    ids: list[int] = []
    labels: list[int] = []
    for i, segment in enumerate(segments):
        piece = encode_text(tokenizer, segment.text, add_bos=i == 0)
        ids += piece
        labels += piece if (segment.trainable or train_on_prompt) else [IGNORE_INDEX] * len(piece)
    eos = tokenizer.eos_token_id
    if add_eos and eos is not None and ids[-1:] != [eos]:
        ids.append(eos)
        labels.append(eos)
    return ids, labels
