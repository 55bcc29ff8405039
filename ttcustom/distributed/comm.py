"""Communicators: the one place where data-parallel replicas exchange arrays.

DDP only ever needs three things from a transport: average a bucket of arrays over the
replicas (asynchronously, so reduction overlaps the rest of backward), copy replica 0's
arrays to the others, and check the replicas agree on a small Python value.
`TorchCommunicator` does that with `torch.distributed`, packing each bucket into one
flat torch buffer; a tt mesh does it with ttnn CCL ops (`ttcustom.distributed.mesh`).
"""

from __future__ import annotations

import abc
from typing import Any, Protocol

import torch
import torch.distributed as dist

from ttcustom.backends.base import Array, Backend, Shape
from ttcustom.distributed.errors import DistributedError, collective_failed
from ttcustom.distributed.flat import flatten, unflatten


class Pending(Protocol):
    """A collective in flight; `wait()` returns its result arrays."""

    def wait(self) -> list[Array]: ...


class Done:
    """A collective that completed when it was issued."""

    def __init__(self, result: list[Array]) -> None:
        self.result = result

    def wait(self) -> list[Array]:
        return self.result


class Communicator(abc.ABC):
    """Sum, broadcast and compare across the replicas of a data-parallel run."""

    @property
    @abc.abstractmethod
    def size(self) -> int:
        """How many replicas' gradients are averaged."""

    @abc.abstractmethod
    def all_reduce_mean(self, backend: Backend, arrays: list[Array]) -> Pending:
        """Start averaging `arrays` (one bucket, one dtype) over the replicas."""

    @abc.abstractmethod
    def broadcast(self, backend: Backend, arrays: list[Array]) -> list[Array]:
        """Replica 0's values of `arrays`, on every replica."""

    @abc.abstractmethod
    def check_same(self, what: str, items: list[Any]) -> None:
        """Raise `DistributedError` naming the first item where replicas disagree."""

    @property
    def replicas_per_process(self) -> int:
        """How many replicas share each batch one process loads."""
        return 1

    def shard_input(self, value: Any) -> Any:
        """This replica's part of a forward input (a process already loads its own part)."""
        return value


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

    def all_reduce_mean(self, backend: Backend, arrays: list[Array]) -> Pending:
        # Pre-divide (as torch DDP does) so the sum over replicas is already the mean.
        flat = backend.mul(_flat_torch(backend, arrays), 1.0 / self.size)
        try:
            work = dist.all_reduce(flat, op=dist.ReduceOp.SUM, group=self.group, async_op=True)
        except RuntimeError as error:
            raise collective_failed("gradient all-reduce", error) from error
        return _TorchPending(work, backend, flat, [backend.shape(a) for a in arrays])

    def broadcast(self, backend: Backend, arrays: list[Array]) -> list[Array]:
        flat = _flat_torch(backend, arrays)
        try:
            dist.broadcast(flat, src=self._src, group=self.group)
        except RuntimeError as error:
            raise collective_failed("broadcast from rank 0", error) from error
        return unflatten(backend, flat, [backend.shape(a) for a in arrays])

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
    def __init__(self, work: dist.Work, backend: Backend, flat: torch.Tensor,
                 shapes: list[Shape]) -> None:
        self.work, self.backend, self.flat, self.shapes = work, backend, flat, shapes

    def wait(self) -> list[Array]:
        try:
            self.work.wait()
        except RuntimeError as error:
            raise collective_failed("gradient all-reduce", error) from error
        return unflatten(self.backend, self.flat, self.shapes)


def _flat_torch(backend: Backend, arrays: list[Array]) -> torch.Tensor:
    """The arrays packed into one torch buffer (the form torch.distributed sends)."""
    flat = flatten(backend, arrays)
    if not isinstance(flat, torch.Tensor):
        raise TypeError(
            f"TorchCommunicator sends torch arrays (the cpu/cuda backends), got "
            f"{type(flat).__name__}; a tt model reduces over its mesh (device_config.mesh_shape)"
        )
    return flat


def _first_difference(what: str, reference: list[Any], theirs: list[Any], rank: int) -> str:
    for index, (ours, other) in enumerate(zip(reference, theirs)):
        if ours != other:
            return (f"rank {rank} disagrees with rank 0 on {what} #{index}: rank 0 has "
                    f"{ours!r}, rank {rank} has {other!r}. Every rank must build the same model.")
    return (f"rank {rank} has {len(theirs)} {what}, rank 0 has {len(reference)}. "
            "Every rank must build the same model.")
