"""The mesh sub-protocol of `Backend` (num_devices, all_reduce, upload(shard_dim=)) on a
single-device backend, and `MeshCommunicator` driven through it alone."""

from __future__ import annotations

import pytest
import torch

from ttcustom.backends import ReferenceBackend
from ttcustom.distributed.mesh import MeshCommunicator


def test_a_single_device_backend_spans_one_device():
    assert ReferenceBackend("cpu").num_devices == 1


def test_a_shard_of_one_device_is_the_whole_value():
    value = torch.arange(6.0).reshape(3, 2)
    assert torch.equal(ReferenceBackend("cpu").upload(value, shard_dim=0), value)


def test_all_reduce_on_a_single_device_backend_says_how_to_reduce():
    backend = ReferenceBackend("cpu")
    with pytest.raises(NotImplementedError, match=r"cpu backend runs on one device.*torchrun"):
        backend.all_reduce(backend.upload(torch.ones(2)))


def test_a_one_device_mesh_communicator_leaves_gradients_alone():
    backend = ReferenceBackend("cpu")
    grads = [torch.ones(2, 3)]
    comm = MeshCommunicator(backend)
    assert comm.size == 1
    assert comm.all_reduce_mean(backend, grads).wait() is grads


def test_a_one_device_mesh_communicator_uploads_the_whole_batch():
    comm = MeshCommunicator(ReferenceBackend("cpu"))
    batch = torch.arange(4).reshape(2, 2)
    assert torch.equal(comm.shard_input(batch).to_torch(), batch)
