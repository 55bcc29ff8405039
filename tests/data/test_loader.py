"""Deterministic order, exact resume and disjoint shards."""

import pytest

from ttcustom.data import DataLoader, Example, ShuffleSampler


def dataset(n):
    return [Example([i], [i]) for i in range(n)]


def ids(batch):
    return batch["input_ids"][:, 0].tolist()


def drain(loader, n):
    out = []
    while len(out) < n:
        out += [ids(b) for b in loader][: n - len(out)]
    return out


def test_same_seed_same_order_and_epochs_differ():
    a = DataLoader(dataset(10), batch_size=2, seed=3)
    b = DataLoader(dataset(10), batch_size=2, seed=3)
    first, second = drain(a, 5), drain(a, 5)
    assert first == drain(b, 5)
    assert first != second
    assert sorted(sum(first, [])) == list(range(10))


def test_resume_mid_epoch_continues_with_the_same_batches():
    reference = DataLoader(dataset(9), batch_size=2, seed=1)
    expected = drain(reference, 10)
    interrupted = DataLoader(dataset(9), batch_size=2, seed=1)
    head = []
    for batch in interrupted:
        head.append(ids(batch))
        if len(head) == 3:
            break
    resumed = DataLoader(dataset(9), batch_size=2, seed=1)
    resumed.load_state_dict(interrupted.state_dict())
    assert head + drain(resumed, 7) == expected


def test_drop_last_controls_the_partial_batch():
    assert len(DataLoader(dataset(5), batch_size=2)) == 2
    assert len(DataLoader(dataset(5), batch_size=2, drop_last=False)) == 3


def test_too_few_examples_for_one_batch_is_an_error():
    with pytest.raises(ValueError, match="make no full batch of 4"):
        DataLoader(dataset(3), batch_size=4)


def test_distributed_shards_are_disjoint_and_cover_the_data():
    shards = [ShuffleSampler(10, seed=7, num_replicas=3, rank=r).indices(0) for r in range(3)]
    assert all(len(s) == 4 for s in shards)
    flat = sum(shards, [])
    assert set(flat) == set(range(10))
    assert len(flat) - len(set(flat)) == 2


def test_without_shuffle_the_order_is_the_dataset_order():
    loader = DataLoader(dataset(4), batch_size=2, shuffle=False)
    assert drain(loader, 2) == [[0, 1], [2, 3]]


def test_the_distributed_packages_sampler_plugs_in():
    from ttcustom.distributed import DistributedSampler

    data = dataset(8)
    shards = [drain(DataLoader(data, batch_size=2, sampler=DistributedSampler(
        data, num_replicas=2, rank=r, seed=5)), 2) for r in range(2)]
    assert sorted(sum(sum(shards, []), [])) == list(range(8))
