"""Deterministic, resumable, shardable order of dataset indices.

The order of epoch `e` is a permutation drawn from `seed + e`, so it never depends on
how many batches were drawn before: a resumed run sees the same order. With
`num_replicas > 1` each rank takes every `num_replicas`-th index of that permutation
(padded by wrapping so every rank gets the same count), like
`torch.utils.data.DistributedSampler`.
"""

from __future__ import annotations

import math

import torch


class ShuffleSampler:
    def __init__(self, num_items: int, seed: int = 0, shuffle: bool = True,
                 num_replicas: int = 1, rank: int = 0) -> None:
        if num_items <= 0:
            raise ValueError("ShuffleSampler needs at least one item")
        if not 0 <= rank < num_replicas:
            raise ValueError(f"rank {rank} is outside [0, {num_replicas})")
        self.num_items = num_items
        self.seed = seed
        self.shuffle = shuffle
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return math.ceil(self.num_items / self.num_replicas)

    def indices(self, epoch: int | None = None) -> list[int]:
        """This rank's indices for `epoch` (default: the current epoch)."""
        epoch = self.epoch if epoch is None else epoch
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed + epoch)
            order = torch.randperm(self.num_items, generator=generator).tolist()
        else:
            order = list(range(self.num_items))
        total = len(self) * self.num_replicas
        order = (order * math.ceil(total / len(order)))[:total]
        return order[self.rank::self.num_replicas]

    def __iter__(self):
        return iter(self.indices())
