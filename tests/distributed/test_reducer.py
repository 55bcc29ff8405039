"""DDP's bucketing, no_sync and error rules, in one process over a recording transport."""

from __future__ import annotations

import gc

import pytest
import torch

import ttcustom as tc
from tests.distributed.ddp_worker import TinyMLP, build_model, micro_batch
from ttcustom import nn
from ttcustom.distributed import Communicator, DistributedDataParallel
from ttcustom.distributed.comm import Done
from ttcustom.distributed.flat import group_by_size
from ttcustom.distributed.reducer import Reducer


class TwinReplicas(Communicator):
    """Two replicas that computed the same gradients (so the mean is the local gradient);
    records the element count of each collective."""

    def __init__(self, broadcast_value: float | None = None) -> None:
        self.reduced: list[int] = []
        self.broadcast_value = broadcast_value

    @property
    def size(self) -> int:
        return 2

    def all_reduce_mean(self, backend, arrays):
        self.reduced.append(sum(a.numel() for a in arrays))
        return Done([a.clone() for a in arrays])

    def broadcast(self, backend, arrays):
        if self.broadcast_value is None:
            return arrays
        return [torch.full_like(a, self.broadcast_value) for a in arrays]

    def check_same(self, what, items):
        pass


def _loss(model, micro: int = 0):
    x, y = micro_batch(0, micro, slice(0, 4), 4)
    return ((model(x) - y) ** 2).mean()


def _grads(model) -> dict[str, torch.Tensor]:
    return {n: p.grad.to_torch() for n, p in model.named_parameters()}


def test_no_sync_keeps_gradients_local_then_one_synced_backward_reduces_every_bucket():
    comm = TwinReplicas()
    ddp = DistributedDataParallel(build_model(seed=0), communicator=comm, bucket_cap_mb=1e-6)
    reference = build_model(seed=0)
    for micro in range(2):
        with ddp.no_sync():
            _loss(ddp, micro).backward()
        _loss(reference, micro).backward()
    assert comm.reduced == []
    _loss(ddp, 2).backward()
    _loss(reference, 2).backward()
    sizes = [p.numel() for p in reversed(list(reference.parameters()))]
    assert comm.reduced == sizes
    for name, grad in _grads(reference).items():
        torch.testing.assert_close(_grads(ddp.module)[name], grad, rtol=0, atol=1e-6)


def test_buckets_start_in_bucket_order_even_when_gradients_arrive_out_of_order():
    first = nn.Parameter(tc.zeros(3))
    second = nn.Parameter(tc.zeros(5))
    comm = TwinReplicas()
    reducer = Reducer([("first", first), ("second", second)], comm, cap_bytes=1)
    assert [b.names for b in reducer.buckets] == [["second"], ["first"]]
    reducer.prepare()
    first.grad = tc.ones(3)
    reducer.mark_ready(first)
    assert comm.reduced == []
    second.grad = tc.ones(5)
    reducer.mark_ready(second)
    assert comm.reduced == [5, 3]


def test_buckets_hold_one_dtype_and_close_at_the_size_cap():
    tensors = [tc.zeros(4), tc.zeros(4, dtype=torch.bfloat16), tc.zeros(4), tc.zeros(4)]
    assert group_by_size(tensors, cap_bytes=32) == [[0, 2], [1], [3]]
    assert group_by_size(tensors, cap_bytes=1 << 20) == [[0, 2, 3], [1]]


class WithSpareHead(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = TinyMLP()
        self.spare = nn.Linear(4, 4)

    def forward(self, x):
        return self.body(x)


def test_a_parameter_that_got_no_gradient_is_named_at_the_next_forward():
    ddp = DistributedDataParallel(WithSpareHead(), communicator=TwinReplicas())
    _loss(ddp).backward()
    with pytest.raises(RuntimeError, match=r"spare\.weight, spare\.bias.*find_unused_parameters"):
        _loss(ddp)


def test_find_unused_parameters_reduces_a_zero_gradient_for_them():
    comm = TwinReplicas()
    ddp = DistributedDataParallel(WithSpareHead(), communicator=comm, find_unused_parameters=True)
    _loss(ddp).backward()
    assert len(comm.reduced) == 1
    assert torch.count_nonzero(ddp.module.spare.weight.grad.to_torch()) == 0
    _loss(ddp).backward()
    assert len(comm.reduced) == 2


def test_backward_twice_after_one_forward_is_an_error():
    ddp = DistributedDataParallel(build_model(seed=0), communicator=TwinReplicas(),
                                  bucket_cap_mb=1e-6)
    loss = _loss(ddp)
    loss.backward(retain_graph=True)
    with pytest.raises(RuntimeError, match="gradient twice in one iteration"):
        loss.backward()


def test_wrapping_copies_replica_zero_into_parameters_and_buffers():
    model = build_model(seed=0)
    model.register_buffer("table", tc.arange(6))
    DistributedDataParallel(model, communicator=TwinReplicas(broadcast_value=3.0))
    for name, tensor in list(model.named_parameters()) + list(model.named_buffers()):
        assert torch.all(tensor.to_torch() == 3), name
    assert model.table.dtype == torch.int64


def test_state_dict_keys_carry_the_module_prefix_like_torch():
    ddp = DistributedDataParallel(build_model(seed=0), communicator=TwinReplicas())
    assert list(ddp.state_dict()) == [f"module.{k}" for k in ddp.module.state_dict()]


def test_a_wrapper_dropped_right_after_its_forward_still_averages_the_gradients():
    comm = TwinReplicas()
    loss = _loss(DistributedDataParallel(build_model(seed=0), communicator=comm))
    gc.collect()
    loss.backward()
    assert len(comm.reduced) == 1


def test_lora_with_gradient_checkpointing_reduces_each_adapter_once_per_step():
    from tests.models.hf_helpers import batch, hf_model
    from ttcustom.lora import apply_lora
    from ttcustom.models import from_hf

    model = apply_lora(from_hf(hf_model("llama"), backend="cpu"), r=4)
    model.gradient_checkpointing_enable()
    comm = TwinReplicas()
    ddp = DistributedDataParallel(model, communicator=comm, bucket_cap_mb=1e-6)
    ids, labels = batch()
    for _ in range(2):
        ddp(ids, labels=labels).loss.backward()
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert 0 < len(trainable) < len(list(model.parameters()))
    assert len(comm.reduced) == 2 * len(trainable)
