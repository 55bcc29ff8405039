"""DistributedSampler: distinct, equal-sized, epoch-seeded shares of a dataset."""

from __future__ import annotations

import torch

from ttcustom.distributed import DistributedSampler


def _shares(n: int, replicas: int, **kwargs) -> list[list[int]]:
    return [list(DistributedSampler(range(n), replicas, rank, **kwargs))
            for rank in range(replicas)]


def test_ranks_get_disjoint_shares_that_cover_the_dataset():
    shares = _shares(12, 3, shuffle=True, seed=5)
    assert sorted(sum(shares, [])) == list(range(12))


def test_uneven_datasets_are_padded_by_repeating_indices_or_truncated():
    padded = _shares(10, 3, shuffle=False)
    assert padded == [[0, 3, 6, 9], [1, 4, 7, 0], [2, 5, 8, 1]]
    dropped = _shares(10, 3, shuffle=False, drop_last=True)
    assert [len(s) for s in dropped] == [3, 3, 3] and len(set(sum(dropped, []))) == 9


def test_set_epoch_reshuffles_the_same_way_on_every_rank():
    def order(epoch: int) -> list[int]:
        sampler = DistributedSampler(range(50), num_replicas=1, rank=0, seed=7)
        sampler.set_epoch(epoch)
        return list(sampler)

    assert order(0) == order(0) and order(0) != order(1)
    expected = torch.randperm(50, generator=torch.Generator().manual_seed(7 + 1)).tolist()
    assert order(1) == expected


def test_rank_and_world_size_default_to_this_process():
    sampler = DistributedSampler(range(5), shuffle=False)
    assert (sampler.rank, sampler.num_replicas, list(sampler)) == (0, 1, [0, 1, 2, 3, 4])
