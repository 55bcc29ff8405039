"""`DistributedDataParallel`: torch's DDP API over ttcustom modules.

Wrapping broadcasts rank 0's parameters and buffers to every replica (after checking
that all replicas built the same model); afterwards every backward that follows a
synchronised forward leaves the replica-averaged gradient in each `.grad`, so a
replicated optimizer step keeps the replicas identical.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator, Sequence
from typing import Any

import torch.distributed as dist

from ttcustom.autograd.function import AccumulateGrad, is_grad_enabled, no_grad
from ttcustom.autograd.tensor import Tensor
from ttcustom.backends.base import Backend
from ttcustom.distributed.comm import Communicator, TorchCommunicator
from ttcustom.distributed.flat import group_by_size
from ttcustom.distributed.mesh import MeshCommunicator
from ttcustom.distributed.reducer import Reducer
from ttcustom.nn.module import Module, Parameter

#: rank 0's state is broadcast in chunks of this many bytes (torch uses the same size)
BROADCAST_BUCKET_BYTES = 250 * 2**20


class DistributedDataParallel(Module):
    """Data parallelism for `module`: gradients are averaged over replicas after backward.

    Accepts torch DDP's main arguments; `device_ids` is accepted so torch scripts port
    unchanged, but placement follows the module's backend. `communicator` overrides
    the transport (default: the devices of the mesh for a tt module, else the torch
    process group).
    """

    def __init__(
        self,
        module: Module,
        device_ids: Sequence[int] | None = None,
        broadcast_buffers: bool = True,
        process_group: dist.ProcessGroup | None = None,
        bucket_cap_mb: float = 25.0,
        find_unused_parameters: bool = False,
        communicator: Communicator | None = None,
    ) -> None:
        super().__init__()
        if bucket_cap_mb <= 0:
            raise ValueError(f"DistributedDataParallel: bucket_cap_mb must be > 0, got {bucket_cap_mb}")
        self.module = module
        self.communicator = communicator or default_communicator(module.backend, process_group)
        self.broadcast_buffers = broadcast_buffers
        self.find_unused_parameters = find_unused_parameters
        self.require_backward_grad_sync = True
        named = list(module.named_parameters())
        self.communicator.check_same(
            "parameters", [(n, p.shape, str(p.dtype), p.requires_grad) for n, p in named]
        )
        self.communicator.check_same(
            "buffers", [(n, b.shape, str(b.dtype)) for n, b in module.named_buffers()]
        )
        broadcast_from_rank0(self.communicator, [p for _, p in named] + list(module.buffers()))
        trainable = [(n, p) for n, p in named if p.requires_grad]
        self.reducer = Reducer(trainable, self.communicator, int(bucket_cap_mb * 2**20))

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        if self.broadcast_buffers:
            broadcast_from_rank0(self.communicator, list(self.module.buffers()))
        shard = self.communicator.shard_input
        output = self.module(*map(shard, args), **{k: shard(v) for k, v in kwargs.items()})
        if is_grad_enabled() and self.require_backward_grad_sync:
            unused = unused_parameters(output, self.reducer.params) \
                if self.find_unused_parameters else ()
            self.reducer.prepare(unused)
        else:
            self.reducer.disarm()
        return output

    @property
    def replicas_per_process(self) -> int:
        """Replicas sharing each batch this process loads: its mesh's devices, else 1.

        A process loads `batch_size x replicas_per_process` rows per micro-batch to give
        every replica `batch_size`.
        """
        return self.communicator.replicas_per_process

    @contextlib.contextmanager
    def no_sync(self) -> Iterator[None]:
        """Forwards inside keep their gradients local; the first one outside averages all.

        For gradient accumulation: run every micro-batch but the last under `no_sync()`.
        """
        previous = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = previous


def default_communicator(backend: Backend, process_group: dist.ProcessGroup | None) -> Communicator:
    """The devices of a tt mesh, else the torch process group (cpu/cuda modules)."""
    if backend.name == "tt":
        if dist.is_initialized() and dist.get_world_size(process_group) > 1:
            raise NotImplementedError(
                "DistributedDataParallel on the tt backend runs one process per host, with "
                "the mesh spanning its devices (device_config.mesh_shape); start several "
                "hosts with tt-metal's launcher rather than several torchrun processes"
            )
        return MeshCommunicator(backend)
    return TorchCommunicator(process_group)


@no_grad()
def broadcast_from_rank0(comm: Communicator, tensors: Sequence[Tensor]) -> None:
    """Overwrite `tensors` in place with replica 0's values."""
    for group in group_by_size(tensors, BROADCAST_BUCKET_BYTES):
        members = [tensors[i] for i in group]
        backend = members[0].backend
        for tensor, value in zip(members, comm.broadcast(backend, [t.data for t in members])):
            backend.copy_(tensor.data, value)


def unused_parameters(output: Any, params: Sequence[Parameter]) -> list[Parameter]:
    """`params` that the autograd graph of `output` does not reach."""
    tensors = [t for t in _tensors_in(output) if t.requires_grad]
    reached = {id(t) for t in tensors if t.grad_fn is None}
    stack = [t.grad_fn for t in tensors if t.grad_fn is not None]
    seen: set[int] = set()
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, AccumulateGrad):
            reached.add(id(node.leaf))
        stack.extend(node.parents)
    return [p for p in params if id(p) not in reached]


def _tensors_in(value: Any) -> Iterator[Tensor]:
    """Tensors inside a forward's output: nested tuples, lists, dicts and dataclasses."""
    if isinstance(value, Tensor):
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _tensors_in(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _tensors_in(item)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for item in dataclasses.fields(value):
            yield from _tensors_in(getattr(value, item.name))
