"""`DistributedSampler`: each rank reads its own share of the dataset.

torch's sampler (pad by repeating indices to a multiple of the world size, or drop the
tail; shuffle from `seed + epoch`; rank r takes every world-size-th index from r), with
rank and world size taken from `ttcustom.distributed`, so it also serves runs whose
ranks come from tt-metal's distributed context rather than a torch process group.
"""

from __future__ import annotations

from collections.abc import Sized

import torch.utils.data

from ttcustom.distributed.process_group import get_rank, get_world_size


class DistributedSampler(torch.utils.data.DistributedSampler):
    """Indices of this rank's share of `dataset`; call `set_epoch(e)` before each epoch."""

    def __init__(
        self,
        dataset: Sized,
        num_replicas: int | None = None,
        rank: int | None = None,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        super().__init__(
            dataset,
            num_replicas=get_world_size() if num_replicas is None else num_replicas,
            rank=get_rank() if rank is None else rank,
            shuffle=shuffle,
            seed=seed,
            drop_last=drop_last,
        )
