"""`MeshCommunicator`: data parallel over the devices of one tt mesh (N300, T3K, Galaxy).

One process drives the whole mesh. Weights are uploaded replicated (ReplicateTensorToMesh),
each host batch is split along dim 0 so every device computes on its own rows
(ShardTensorToMesh), each device's gradients are averaged with a ttnn `all_reduce`, and
the optimizer step then runs identically on every replica. On several hosts the mesh
spans them through tt-metal's distributed context, and the same collectives reduce over
the global mesh.

Gradients are reduced one array per collective, not packed into a flat buffer: packing
tiled device tensors costs a re-layout, and ttnn queues each collective behind the
backward kernels already dispatched, so reduction still overlaps backward.
"""

from __future__ import annotations

from typing import Any

import torch

from ttcustom.autograd.tensor import Tensor
from ttcustom.backends.base import Array, Backend
from ttcustom.distributed.comm import Communicator, Done, Pending


class MeshCommunicator(Communicator):
    """The replicas are the devices of `backend`'s mesh (`Backend.num_devices`, reduced by
    `Backend.all_reduce`, batches split by `Backend.upload(shard_dim=0)`)."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    @property
    def size(self) -> int:
        return self.backend.num_devices

    @property
    def replicas_per_process(self) -> int:
        return self.size

    def all_reduce_mean(self, backend: Backend, arrays: list[Array]) -> Pending:
        if self.size == 1:
            return Done(arrays)
        # Pre-divide: the CCL sums in bfloat16, so keep the partial sums small.
        return Done([backend.all_reduce(backend.mul(a, 1.0 / self.size)) for a in arrays])

    def broadcast(self, backend: Backend, arrays: list[Array]) -> list[Array]:
        """Replicas are uploaded from one host value, so device 0's values are everywhere."""
        return arrays

    def check_same(self, what: str, items: list[Any]) -> None:
        """One process built the model for every device: nothing can differ."""

    def shard_input(self, value: Any) -> Any:
        """A host batch tensor -> a device tensor with 1/size of its rows on each device."""
        if not isinstance(value, torch.Tensor) or value.dim() == 0:
            return value
        rows = value.shape[0]
        if rows % self.size:
            raise ValueError(
                f"DistributedDataParallel on a {self.size}-device mesh splits each batch "
                f"along dim 0, but an input has {rows} rows; use a batch size divisible "
                f"by {self.size}"
            )
        return Tensor(self.backend.upload(value, shard_dim=0), self.backend)
