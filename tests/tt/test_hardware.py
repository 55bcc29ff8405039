"""Hardware suite: the golden suites' op cases and training step on a Tenstorrent card,
compared with the reference backend by PCC (thresholds per op in tests/tt/cases.py).

Run on a machine with a card:  TTCUSTOM_BACKEND=tt python -m pytest tests/tt -m hardware
Without a card every test here skips, saying why.
"""

from __future__ import annotations

import os

import pytest

ttnn = pytest.importorskip("ttnn")

import torch  # noqa: E402

import ttcustom as tc  # noqa: E402
from tests.tt.cases import CASES, INFERENCE_CASES, assert_correlated, run  # noqa: E402
from tests.tt.test_golden_adamw_precision import _ours, _torch_run, drift  # noqa: E402
from tests.tt.test_golden_configs import RUNS, STEPS, assert_trained, run_config  # noqa: E402
from tests.tt.test_golden_step import _batch, _step, _upload  # noqa: E402
from tests.tt.test_golden_trace import STEPS as TRACE_STEPS  # noqa: E402
from tests.tt.test_golden_trace import _train  # noqa: E402
from tests.tt.tiny_llama import TinyLlama  # noqa: E402
from ttcustom.backends import tt_card_present  # noqa: E402
from ttcustom.backends.tt import BOARD_MESH_SHAPES  # noqa: E402
from ttcustom.optim import AdamW  # noqa: E402

pytestmark = [pytest.mark.tt, pytest.mark.hardware]

FP32_PCC = 0.999


def _no_card_reason() -> str | None:
    if os.environ.get("TT_METAL_MOCK_CLUSTER_DESC_PATH"):
        return "TT_METAL_MOCK_CLUSTER_DESC_PATH is set: a mock cluster is not a card"
    if not tt_card_present():
        return ("no Tenstorrent card: ttnn reports no devices. On a machine with one run "
                "TTCUSTOM_BACKEND=tt python -m pytest tests/tt -m hardware")
    return None


@pytest.fixture(scope="module")
def card():
    reason = _no_card_reason()
    if reason:
        pytest.skip(reason)
    backend = tc.get_backend("tt")
    yield backend
    tc.backends.close_all()


def test_describe_names_a_known_board(card):
    info = card.describe()
    assert info["board"] in BOARD_MESH_SHAPES and info["open"]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_bfloat16_op_matches_reference(case, card):
    out, grads = run(case, card, torch.bfloat16)
    ref, ref_grads = run(case, tc.get_backend("cpu"), torch.float32, precision=torch.bfloat16)
    assert_correlated(out, ref, case.pcc, f"{case.name} output")
    for i, (g, r) in enumerate(zip(grads, ref_grads, strict=True)):
        assert_correlated(g, r, case.pcc, f"{case.name} grad {i}")


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_float32_op_matches_reference(case, card):
    out, grads = run(case, card, torch.float32)
    ref, ref_grads = run(case, tc.get_backend("cpu"), torch.float32)
    assert_correlated(out, ref, FP32_PCC, f"{case.name} output")
    for i, (g, r) in enumerate(zip(grads, ref_grads, strict=True)):
        assert_correlated(g, r, FP32_PCC, f"{case.name} grad {i}")


@pytest.mark.parametrize("case", INFERENCE_CASES, ids=lambda c: c.name)
def test_inference_attention_matches_reference(case, card):
    """bfloat16 with a head dim of whole tiles runs ttnn's fused SDPA kernel."""
    out, _ = run(case, card, torch.bfloat16, grad=False)
    ref, _ = run(case, tc.get_backend("cpu"), torch.float32, grad=False,
                 precision=torch.bfloat16)
    assert_correlated(out, ref, case.pcc, f"{case.name} inference output")


def test_training_step_matches_reference(card):
    loss, grads, params = _step(card, torch.bfloat16, _batch())
    ref_loss, ref_grads, ref_params = _step(tc.get_backend("cpu"), torch.float32, _batch())
    assert loss == pytest.approx(ref_loss, rel=3e-2)
    for name in grads:
        assert_correlated(grads[name], ref_grads[name], 0.99, f"grad of {name}")
        # the update is lr = 1e-3 per weight, below bfloat16's resolution near 1 (2^-7)
        torch.testing.assert_close(params[name], ref_params[name], rtol=1e-2, atol=1e-2)


def test_training_step_stays_on_device(card):
    tc.manual_seed(0)
    model = TinyLlama(device=card, dtype=torch.bfloat16)
    optimizer = AdamW(model.parameters(), lr=1e-3)
    for step in range(2):
        if step == 1:
            card.transfers.reset()
        optimizer.zero_grad()
        loss = model(**_upload(_batch(), card))
        loss.backward()
        optimizer.step()
        loss.item()
    assert (card.transfers.uploads, card.transfers.downloads) == (2, 1)


def test_full_precision_adamw_tracks_torch_on_the_card(card):
    """master_weights=True: float32 masters and moments through the float32 composite."""
    ratio, cosine = drift(_ours(card, master_weights=True), _torch_run())
    assert ratio == pytest.approx(1.0, abs=0.02) and cosine > 0.999


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n, run in RUNS.items() if run[2] == (1, 1)])
def test_shipped_config_trains_and_compiles_once_on_the_card(name, card, tmp_path, monkeypatch):
    """Each shipped single-device config (shrunk as in golden mode) trains, and the
    device's program cache stops growing after the optimizer's first two steps."""
    trainer, entries = run_config(name, tmp_path, monkeypatch, card,
                                  card.device.mesh.num_program_cache_entries, close=False)
    assert_trained(trainer, entries)
    assert entries[2:] == [entries[1]] * (STEPS - 2), entries


def test_captured_step_runs_as_one_trace_execution_per_step(card):
    eager, _, _ = _train(card, captured=False)
    losses, executions, _ = _train(card, captured=True)
    assert executions == [0] + [1] * (TRACE_STEPS - 1)
    # the trace replays the eager step's kernels: the same numbers up to fp32 reduction order
    assert losses == pytest.approx(eager, rel=1e-4)
