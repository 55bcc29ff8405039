"""A simulated tt mesh in golden mode: each device holds its own values.

`MeshGoldenTTNN` extends the golden harness of tests/tt (every ttnn call checked
against the real signature and run by Tenstorrent's golden function) to a mesh of
devices. A mesh tensor (`MeshTensor`) is one host tensor per device; an op on mesh
tensors runs once per device on that device's tensors, as a mesh program runs on every
chip; mesh mappers replicate or shard at upload; `all_reduce` runs ttnn's own mesh golden
(`_ttnn_golden_mesh_shape`), after the checks the CCL documents (rank >= 2, TILE, its
dtypes).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import ttnn

from tests.tt.golden import (
    SESSION_CALLS,
    GoldenOp,
    GoldenTTNN,
    HarnessViolation,
    HostDevice,
    HostTensor,
    check_rules,
    leaves,
)
from tests.tt.rules.predicates import Call
from tests.tt.signatures import check_call

CCL_DTYPES = (ttnn.bfloat16, ttnn.bfloat8_b, ttnn.float32)


class MeshTensor:
    """A mesh tensor's stand-in: `shards[d]` is device d's tensor (row-major devices)."""

    __slots__ = ("shards",)

    def __init__(self, shards: list[HostTensor]) -> None:
        self.shards = shards

    def __getattr__(self, name: str) -> Any:  # shape, dtype, layout, padded_shape
        return getattr(self.shards[0], name)

    def __repr__(self) -> str:
        return f"MeshTensor({self.shards})"


class _Mapper:
    """What a mesh mapper stand-in records: replicate (dim None) or shard along `dim`."""

    def __init__(self, dim: int | None) -> None:
        self.dim = dim


class MeshGoldenTTNN(GoldenTTNN):
    """The `ttnn` module on a simulated `mesh_shape` mesh, in golden mode."""

    def __init__(self, mesh_shape: tuple[int, int] = (1, 2), board: str = "N300") -> None:
        super().__init__(board=board, devices=math.prod(mesh_shape))
        self.mesh_shape = tuple(mesh_shape)
        self._mesh_ops: dict[str, _MeshOp] = {}

    def resolve(self, name: str) -> Any:
        op = super().resolve(name)
        if not isinstance(op, GoldenOp):
            return op
        if name not in self._mesh_ops:
            self._mesh_ops[name] = _MeshOp(op, self)
        return self._mesh_ops[name]

    def replicate_tensor_to_mesh_mapper(self, mesh: HostDevice) -> _Mapper:
        self._device_call("replicate_tensor_to_mesh_mapper", mesh)
        return _Mapper(None)

    def shard_tensor_to_mesh_mapper(self, mesh: HostDevice, dim: int) -> _Mapper:
        self._device_call("shard_tensor_to_mesh_mapper", mesh, dim)
        return _Mapper(dim)

    def get_device_tensors(self, tensor: MeshTensor) -> list[HostTensor]:
        self._device_call("get_device_tensors", tensor)
        return list(tensor.shards)


class _MeshOp:
    """One ttnn op on the mesh: per device, or as a collective."""

    def __init__(self, op: GoldenOp, harness: MeshGoldenTTNN) -> None:
        self.op, self.harness = op, harness
        self.devices = harness._devices

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.op.name == "all_reduce":
            return self._all_reduce(*args, **kwargs)
        mapper = kwargs.get("mesh_mapper")
        if self.op.name == "from_torch" and isinstance(mapper, _Mapper):
            return self._from_torch(mapper, *args, **kwargs)
        meshes = leaves(args, kwargs, MeshTensor)
        if not meshes:
            result = self.op(*args, **kwargs)
            created = isinstance(result, HostTensor) and not leaves(args, kwargs, HostTensor)
            return self._replicate(result) if created else result
        if leaves(args, kwargs, HostTensor):
            raise HarnessViolation(f"ttnn.{self.op.name} mixes mesh and single-device tensors")
        if self.op.name == "to_torch":
            raise HarnessViolation("ttnn.to_torch of a mesh tensor needs a mesh composer or "
                                   "get_device_tensors() first")
        results = [self.op(*_on_device(args, d), **_on_device(kwargs, d))
                   for d in range(self.devices)]
        return _combine(results)

    def _replicate(self, tensor: HostTensor) -> MeshTensor:
        """A tensor created on the mesh (full, from_torch without mapper): one copy each."""
        copies = [HostTensor(tensor.value.clone(), tensor.dtype, tensor.layout)
                  for _ in range(self.devices - 1)]
        return MeshTensor([tensor, *copies])

    def _from_torch(self, mapper: _Mapper, host: torch.Tensor, *args: Any, **kwargs: Any):
        check_call("from_torch", self.op.real, (host, *args), kwargs)
        kwargs = {k: v for k, v in kwargs.items() if k != "mesh_mapper"}
        if mapper.dim is None:
            pieces = [host] * self.devices
        else:
            if host.shape[mapper.dim] % self.devices:
                raise HarnessViolation(f"ShardTensorToMesh: dim {mapper.dim} of {tuple(host.shape)}"
                                       f" does not split over {self.devices} devices")
            pieces = list(torch.chunk(host, self.devices, dim=mapper.dim))
        return MeshTensor([self.op(piece, *args, **kwargs) for piece in pieces])

    def _all_reduce(self, tensor: MeshTensor, **kwargs: Any) -> MeshTensor:
        check_call("all_reduce", self.op.real, (tensor,), kwargs)
        check_rules(Call("all_reduce", self.op.real, (tensor,), kwargs, self.harness))
        self.harness.calls["all_reduce"] += 1
        SESSION_CALLS["all_reduce"] += 1
        if not isinstance(tensor, MeshTensor):
            raise HarnessViolation(f"ttnn.all_reduce needs a mesh tensor, got {tensor!r}")
        first = tensor.shards[0]
        if first.value.dim() < 2 or first.dtype not in CCL_DTYPES:
            raise HarnessViolation(f"ttnn.all_reduce takes rank >= 2 {CCL_DTYPES} tensors, "
                                   f"got {first!r}")
        golden = ttnn.get_golden_function(ttnn.all_reduce)
        reduced = golden([s.value.clone() for s in tensor.shards],
                         cluster_axis=kwargs.get("cluster_axis"),
                         _ttnn_golden_mesh_shape=self.harness.mesh_shape,
                         _ttnn_golden_mesh_shard_dims=(None,) * len(self.harness.mesh_shape))
        return MeshTensor([HostTensor(reduced.clone(), s.dtype, s.layout) for s in tensor.shards])


def _on_device(structure: Any, device: int) -> Any:
    """`structure` with each MeshTensor replaced by its tensor on `device`."""
    if isinstance(structure, MeshTensor):
        return structure.shards[device]
    if isinstance(structure, dict):
        return {k: _on_device(v, device) for k, v in structure.items()}
    if isinstance(structure, (list, tuple)):
        return type(structure)(_on_device(v, device) for v in structure)
    return structure


def _combine(results: list[Any]) -> Any:
    """Per-device results -> mesh results (lists of outputs are combined item by item)."""
    first = results[0]
    if isinstance(first, HostTensor):
        return MeshTensor(results)
    if isinstance(first, (list, tuple)):
        return [_combine(list(items)) for items in zip(*results)]
    if first is None:
        return None
    raise HarnessViolation(f"a mesh op returned {type(first).__name__} per device")
