"""A tiny model with the Trainer's contract, and a learnable toy dataset (no real LM needed)."""

from __future__ import annotations

from types import SimpleNamespace

import torch

import ttcustom as tc
from ttcustom import functional as F
from ttcustom import nn
from ttcustom.data import IGNORE_INDEX, Example

VOCAB = 16


class TinyLM(nn.Module):
    """Embedding -> dropout -> Linear; loss like transformers (labels shifted inside)."""

    def __init__(self, vocab: int = VOCAB, dim: int = 8, dropout: float = 0.1) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(dim, vocab)
        self.poison_after = None  # training forwards before the loss turns NaN (tests)
        self.calls = 0

    def forward(self, input_ids, attention_mask=None, labels=None):
        self.calls += self.training  # evaluation (e.g. at step 0) does not count
        logits = self.head(self.drop(self.embed(tc.tensor(input_ids))))
        loss = None
        if labels is not None:
            b, s, v = logits.shape
            target = torch.cat([labels[:, 1:], torch.full((b, 1), IGNORE_INDEX)], dim=1)
            loss = F.cross_entropy(logits.reshape(b * s, v), tc.tensor(target.reshape(-1)))
            if self.poison_after is not None and self.calls > self.poison_after:
                loss = loss * float("nan")
        return SimpleNamespace(loss=loss, logits=logits)


def counting_examples(n: int, length: int = 6, seed: int = 0) -> list[Example]:
    """Runs of consecutive ids mod VOCAB from random starts: next token = this + 1."""
    starts = torch.randint(0, VOCAB, (n,), generator=torch.Generator().manual_seed(seed))
    rows = [[(int(s) + i) % VOCAB for i in range(length)] for s in starts]
    return [Example(row, list(row), line=i + 1) for i, row in enumerate(rows)]


def tiny_config(output_dir, **training) -> dict:
    training = {"max_steps": 8, "batch_size": 4, "learning_rate": 0.05, "warmup_steps": 0,
                "validation_frequency": 4, "checkpoint_frequency": 2, "seed": 0, **training}
    return {"training_config": training,
            "logging_config": {"output_dir": str(output_dir), "progress_bar": False}}
