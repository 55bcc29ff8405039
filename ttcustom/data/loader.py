"""`DataLoader`: batches in sampler order, with a position that checkpoints can restore."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from ttcustom.data.collate import Batch, Collator
from ttcustom.data.sampler import ShuffleSampler


class DataLoader:
    """Iterating yields the rest of the current epoch, then moves to the next epoch.

    `state_dict()` is (epoch, batch_index) of the next batch; after `load_state_dict`
    iteration continues with exactly the batch an uninterrupted run would get next.
    A `sampler` is anything with `set_epoch`, `__len__` and `__iter__` whose order
    depends only on the epoch: `ShuffleSampler(..., num_replicas, rank)` or
    `ttcustom.distributed.DistributedSampler` for data-parallel runs.
    """

    def __init__(self, dataset: Sequence[Any], batch_size: int, *, shuffle: bool = True,
                 seed: int = 0, drop_last: bool = True, collate_fn: Callable | None = None,
                 sampler: Any = None) -> None:
        if batch_size <= 0:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        self.dataset = dataset
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.collate_fn = collate_fn or Collator()
        self.sampler = sampler or ShuffleSampler(len(dataset), seed, shuffle)
        self.epoch = 0
        self.batch_index = 0
        if len(self) == 0:
            raise ValueError(f"{len(self.sampler)} examples make no full batch of {batch_size}; "
                             "lower batch_size or add data")

    def __len__(self) -> int:
        """Batches per epoch (on this rank)."""
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[Batch]:
        self.sampler.set_epoch(self.epoch)
        indices = list(self.sampler)
        while self.batch_index < len(self):
            start = self.batch_index * self.batch_size
            chunk = indices[start:start + self.batch_size]
            self.batch_index += 1
            yield self.collate_fn([self.dataset[i] for i in chunk])
        self.epoch += 1
        self.batch_index = 0

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "batch_index": self.batch_index}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.epoch = int(state["epoch"])
        self.batch_index = int(state["batch_index"])
