"""Communicators: the one place where data-parallel replicas exchange arrays.

DDP only ever needs three things from a transport: sum a flat array over the replicas
(asynchronously, so reduction overlaps the rest of backward), copy replica 0's array to
the others, and check the replicas agree on a small Python value. `TorchCommunicator`
does that with `torch.distributed` over the reference backend's torch arrays; the tt
mesh does it with ttnn CCL ops (`ttcustom.distributed.mesh`).
"""

from __future__ import annotations

import abc
from typing import Any, Protocol

import torch
import torch.distributed as dist

from ttcustom.backends.base import Array
from ttcustom.distributed.errors import DistributedError, collective_failed


class Pending(Protocol):
    """A collective in flight; `wait()` returns its result array."""

    def wait(self) -> Array: ...


class Communicator(abc.ABC):
    """Sum, broadcast and compare across the replicas of a data-parallel run."""

    @property
    @abc.abstractmethod
    def size(self) -> int:
        """How many replicas' gradients are averaged."""

    @abc.abstractmethod
    def all_reduce_sum(self, flat: Array) -> Pending:
        """Start summing the 1-D `flat` over replicas; the result replaces it on each."""

    @abc.abstractmethod
    def broadcast(self, flat: Array) -> Array:
        """Replica 0's values of the 1-D `flat`, on every replica."""

    @abc.abstractmethod
    def check_same(self, what: str, items: list[Any]) -> None:
        """Raise `DistributedError` naming the first item where replicas disagree."""


class TorchCommunicator(Communicator):
    """`torch.distributed` over a process group (gloo or nccl); arrays are torch tensors."""

    def __init__(self, group: dist.ProcessGroup | None = None) -> None:
        if not dist.is_initialized():
            raise RuntimeError(
                "DistributedDataParallel needs a process group: call "
                "ttcustom.distributed.init_process_group() first, in a process started by "
                "`torchrun` or `ttcustom launch`"
            )
        self.group = group
        self._src = 0 if group is None else dist.get_global_rank(group, 0)

    @property
    def size(self) -> int:
        return dist.get_world_size(self.group)

    def all_reduce_sum(self, flat: Array) -> Pending:
        _require_torch(flat)
        try:
            work = dist.all_reduce(flat, op=dist.ReduceOp.SUM, group=self.group, async_op=True)
        except RuntimeError as error:
            raise collective_failed("gradient all-reduce", error) from error
        return _TorchPending(work, flat)

    def broadcast(self, flat: Array) -> Array:
        _require_torch(flat)
        try:
            dist.broadcast(flat, src=self._src, group=self.group)
        except RuntimeError as error:
            raise collective_failed("broadcast from rank 0", error) from error
        return flat

    def check_same(self, what: str, items: list[Any]) -> None:
        gathered: list[Any] = [None] * self.size
        try:
            dist.all_gather_object(gathered, items, group=self.group)
        except RuntimeError as error:
            raise collective_failed(f"comparing {what} across ranks", error) from error
        for rank, theirs in enumerate(gathered):
            if theirs != gathered[0]:
                raise DistributedError(_first_difference(what, gathered[0], theirs, rank))


class _TorchPending:
    def __init__(self, work: dist.Work, flat: torch.Tensor) -> None:
        self.work, self.flat = work, flat

    def wait(self) -> Array:
        try:
            self.work.wait()
        except RuntimeError as error:
            raise collective_failed("gradient all-reduce", error) from error
        return self.flat


def _require_torch(flat: Array) -> None:
    if not isinstance(flat, torch.Tensor):
        raise TypeError(
            f"TorchCommunicator reduces torch arrays (the cpu/cuda backends), got "
            f"{type(flat).__name__}; a tt model reduces over its mesh (device_config.mesh_shape)"
        )


def _first_difference(what: str, reference: list[Any], theirs: list[Any], rank: int) -> str:
    for index, (ours, other) in enumerate(zip(reference, theirs)):
        if ours != other:
            return (f"rank {rank} disagrees with rank 0 on {what} #{index}: rank 0 has "
                    f"{ours!r}, rank {rank} has {other!r}. Every rank must build the same model.")
    return (f"rank {rank} has {len(theirs)} {what}, rank 0 has {len(reference)}. "
            "Every rank must build the same model.")
