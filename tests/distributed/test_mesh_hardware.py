"""Hardware: a DDP step on a real 1x2 mesh (N300 or larger) against the reference backend.

Run on a machine with a card:  TTCUSTOM_BACKEND=tt python -m pytest tests/distributed -m hardware
Without a card (or with fewer than two chips) every test here skips, saying why.
"""

from __future__ import annotations

import os

import pytest

ttnn = pytest.importorskip("ttnn")

import torch  # noqa: E402

import ttcustom as tc  # noqa: E402
from tests.tt.cases import assert_correlated  # noqa: E402
from tests.tt.tiny_llama import TinyLlama  # noqa: E402
from ttcustom.backends import tt_card_present  # noqa: E402
from ttcustom.distributed import DistributedDataParallel  # noqa: E402

pytestmark = [pytest.mark.tt, pytest.mark.hardware]


def _no_mesh_reason() -> str | None:
    if os.environ.get("TT_METAL_MOCK_CLUSTER_DESC_PATH"):
        return "TT_METAL_MOCK_CLUSTER_DESC_PATH is set: a mock cluster is not a card"
    if not tt_card_present():
        return ("no Tenstorrent card: ttnn reports no devices. On an N300 or larger run "
                "TTCUSTOM_BACKEND=tt python -m pytest tests/distributed -m hardware")
    if ttnn.GetNumAvailableDevices() < 2:
        return "data parallel needs a card with at least 2 chips (N300, T3K, Galaxy)"
    return None


@pytest.fixture(scope="module")
def mesh():
    reason = _no_mesh_reason()
    if reason:
        pytest.skip(reason)
    from ttcustom.backends.tt import TTBackend

    backend = TTBackend(mesh_shape=(1, 2))
    yield backend
    backend.close()


def test_a_1x2_mesh_adamw_step_tracks_the_reference_with_the_doubled_batch(mesh):
    ids = torch.randint(0, 100, (4, 32), generator=torch.Generator().manual_seed(5))
    params = {}
    for name, backend in (("mesh", mesh), ("reference", tc.get_backend("cpu"))):
        tc.manual_seed(0)
        model = TinyLlama(device=backend)
        optimizer = tc.optim.AdamW(model.parameters(), lr=1e-3)
        if name == "mesh":
            DistributedDataParallel(model, broadcast_buffers=False)(ids, labels=ids).backward()
        else:
            batch = tc.tensor(ids, backend=backend)
            model(batch, labels=batch).backward()
        optimizer.step()
        params[name] = {n: p.to_torch().float() for n, p in model.named_parameters()}
    for name, value in params["reference"].items():
        assert_correlated(params["mesh"][name], value, 0.999, f"{name} after one step")


@pytest.mark.slow
def test_the_lora_config_trains_data_parallel_on_a_1x2_mesh(mesh, tmp_path, monkeypatch):
    """trickster_lora.yaml with enable_ddp on [1, 2] (fabric on, all_reduce per grad);
    the program cache stops growing after the optimizer's first two steps."""
    from tests.tt.test_golden_configs import STEPS, assert_trained, run_config

    trainer, entries = run_config("trickster_lora_ddp_1x2", tmp_path, monkeypatch, mesh,
                                  mesh.device.mesh.num_program_cache_entries, close=False)
    assert_trained(trainer, entries)
    assert entries[2:] == [entries[1]] * (STEPS - 2), entries
