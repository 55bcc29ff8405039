"""tt mesh data parallel in golden mode: a 1x2 mesh trains like one device with 2x batch."""

from __future__ import annotations

import pytest
import torch

pytestmark = pytest.mark.tt
ttnn = pytest.importorskip("ttnn")

import ttcustom as tc  # noqa: E402
from tests.distributed.ddp_worker import build_model, micro_batch, params_of  # noqa: E402
from tests.distributed.mesh_golden import MeshGoldenTTNN, MeshTensor  # noqa: E402
from tests.tt.golden import GoldenTTNN  # noqa: E402
from ttcustom import nn  # noqa: E402
from ttcustom.backends.tt import TTBackend  # noqa: E402
from ttcustom.distributed import DistributedDataParallel  # noqa: E402

ROWS, STEPS = 8, 2


class WithLoss(nn.Module):
    """The MLP and its loss in one forward, so DDP shards inputs and targets alike.
    Host inputs are uploaded (replicated), as the causal LMs do."""

    def __init__(self) -> None:
        super().__init__()
        self.net = build_model(seed=0)

    def forward(self, x, y):
        x, y = (v if isinstance(v, tc.Tensor) else tc.from_torch(v, backend=self.backend)
                for v in (x, y))
        return ((self.net(x) - y) ** 2).mean()


def _train(backend: TTBackend, data_parallel: bool) -> WithLoss:
    model = WithLoss().to(backend)
    step_fn = DistributedDataParallel(model) if data_parallel else model
    optimizer = tc.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for step in range(STEPS):
        x, y = micro_batch(step, 0, slice(0, ROWS), ROWS)
        step_fn(x.to_torch(), y.to_torch()).backward()
        optimizer.step()
        optimizer.zero_grad()
    return model


@pytest.fixture
def mesh_backend():
    backend = TTBackend(ttnn=MeshGoldenTTNN((1, 2)), mesh_shape=(1, 2))
    yield backend
    backend.close()


def test_a_1x2_mesh_step_equals_one_device_with_the_doubled_batch(mesh_backend):
    single = TTBackend(ttnn=GoldenTTNN())
    try:
        expected = params_of(_train(single, data_parallel=False))
    finally:
        single.close()
    trained = _train(mesh_backend, data_parallel=True)
    assert mesh_backend.ttnn.calls["all_reduce"] == STEPS * len(expected)
    for name, param in trained.named_parameters():
        replicas = [s.value for s in param.data.shards]
        assert isinstance(param.data, MeshTensor) and len(replicas) == 2
        torch.testing.assert_close(replicas[1], replicas[0], rtol=0, atol=0, msg=name)
        torch.testing.assert_close(param.to_torch(), expected[name], rtol=1e-5, atol=1e-5,
                                   msg=name)


def test_each_device_computes_on_its_own_half_of_the_batch(mesh_backend):
    ddp = DistributedDataParallel(WithLoss().to(mesh_backend))
    x, y = micro_batch(0, 0, slice(0, ROWS), ROWS)
    loss = ddp(x.to_torch(), y.to_torch())
    model = WithLoss()
    halves = [model(x[i * 4:(i + 1) * 4], y[i * 4:(i + 1) * 4]).item() for i in range(2)]
    per_device = [s.value.item() for s in loss.data.shards]
    torch.testing.assert_close(torch.tensor(per_device), torch.tensor(halves), rtol=1e-5, atol=1e-6)


def test_a_batch_that_does_not_split_over_the_mesh_is_refused(mesh_backend):
    ddp = DistributedDataParallel(WithLoss().to(mesh_backend))
    x, y = micro_batch(0, 0, slice(0, 3), 3)
    with pytest.raises(ValueError, match="3 rows; use a batch size divisible by 2"):
        ddp(x.to_torch(), y.to_torch())


def test_a_llama_adamw_step_on_a_1x2_mesh_equals_one_device(mesh_backend):
    from tests.tt.tiny_llama import TinyLlama

    ids = torch.randint(0, 100, (4, 32), generator=torch.Generator().manual_seed(5))

    def step(backend, data_parallel):
        tc.manual_seed(0)
        model = TinyLlama(device=backend)
        optimizer = tc.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.1)
        if data_parallel:
            DistributedDataParallel(model, broadcast_buffers=False)(ids, labels=ids).backward()
        else:
            batch = tc.tensor(ids, backend=backend)
            model(batch, labels=batch).backward()
        optimizer.step()
        return {n: p.to_torch() for n, p in model.named_parameters()}

    single = TTBackend(ttnn=GoldenTTNN())
    try:
        expected = step(single, data_parallel=False)
    finally:
        single.close()
    for name, value in step(mesh_backend, data_parallel=True).items():
        torch.testing.assert_close(value, expected[name], rtol=1e-4, atol=5e-5, msg=name)


@pytest.mark.slow
def test_the_trainer_on_a_1x2_mesh_loads_a_batch_per_device_and_trains_like_one_device(
        mesh_backend, tmp_path):
    from tests.models.hf_helpers import hf_model
    from tests.train.tiny import counting_examples, tiny_config
    from ttcustom.distributed.training import wrap_for_training
    from ttcustom.models import from_hf
    from ttcustom.train import Trainer

    data = counting_examples(16, length=8)
    held_out = counting_examples(3, length=8, seed=1)  # the last eval batch has one row

    def run(backend, data_parallel: bool, batch_size: int):
        model = from_hf(hf_model("llama"), torch.float32, backend)
        optimizer = tc.optim.SGD(model.parameters(), lr=0.05)
        wrapped, sampler = wrap_for_training(model, data, seed=0) if data_parallel else (model, None)
        config = tiny_config(tmp_path / str(data_parallel), batch_size=batch_size, max_steps=2,
                             validation_frequency=100, checkpoint_frequency=100,
                             validation_batch_size=2)
        trainer = Trainer(wrapped, optimizer, data, held_out, config=config, sampler=sampler,
                          is_main_process=True)
        trainer.train()
        return trainer, {n: p.to_torch() for n, p in model.named_parameters()}

    single = TTBackend(ttnn=GoldenTTNN())
    try:
        reference, expected = run(single, data_parallel=False, batch_size=4)
    finally:
        single.close()
    trainer, trained = run(mesh_backend, data_parallel=True, batch_size=2)
    assert trainer.train_loader.batch_size == 4  # 2 per device x 2 devices
    assert trainer.state.history["val"][-1][1] == pytest.approx(
        reference.state.history["val"][-1][1], rel=1e-5)
    for name, value in trained.items():
        torch.testing.assert_close(value, expected[name], rtol=1e-4, atol=1e-5, msg=name)


def test_a_mesh_opens_with_1d_fabric_and_resets_it_after_closing():
    """all_reduce needs fabric set before open_mesh_device; one chip never touches it."""
    harness = MeshGoldenTTNN((1, 2))
    TTBackend(ttnn=harness, mesh_shape=(1, 2)).close()
    assert harness.fabric_at_open == ttnn.FabricConfig.FABRIC_1D
    assert harness.fabric == ttnn.FabricConfig.DISABLED
    single = GoldenTTNN()
    TTBackend(ttnn=single).close()
    assert single.calls["set_fabric_config"] == 0


def test_a_1x2_mesh_backend_spans_two_devices(mesh_backend):
    assert mesh_backend.num_devices == 2
