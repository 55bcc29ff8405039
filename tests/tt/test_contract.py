"""Contract with the installed ttnn wheel: every ttnn name the tt backend uses exists,
its calls bind to the real signatures, and what the wheel can run on the host without a
card (tensor creation, tile layout and padding, dtypes) is run for real under a mock
N150 cluster descriptor."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ttnn = pytest.importorskip("ttnn")

import torch  # noqa: E402

from tests.tt.golden import HARNESS_GOLDENS, GoldenTTNN  # noqa: E402
from tests.tt.signatures import check_call, op_signatures  # noqa: E402

pytestmark = pytest.mark.tt

REPO = Path(__file__).resolve().parents[2]
BACKEND_SOURCES = sorted((REPO / "ttcustom" / "backends" / "tt").glob("*.py"))
MOCK_CLUSTER = REPO.parent / "shared" / "tt" / "mock_cluster_n150.yaml"
# `T`, `ttnn`, `self.ttnn` and `bk.ttnn` all name the ttnn module in the backend.
NAME = re.compile(r"(?<![\w.])(?:T|ttnn|self\.ttnn|bk\.ttnn)\.([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)")


def _resolve(name: str):
    obj = ttnn
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj


def backend_names() -> list[str]:
    """Every ttnn attribute path the backend sources mention."""
    names = set()
    for path in BACKEND_SOURCES:
        names.update(NAME.findall(path.read_text()))
    return sorted(names)


def backend_operations() -> list[str]:
    return [n for n in backend_names()
            if isinstance(_resolve(n), ttnn.decorators.FastOperation)]


def test_backend_sources_are_scanned():
    assert {"linear", "moreh_adamw", "transformer.scaled_dot_product_attention"} <= set(
        backend_operations())


@pytest.mark.parametrize("name", backend_names())
def test_name_exists_in_the_wheel(name):
    _resolve(name)


@pytest.mark.parametrize("name", backend_operations())
def test_operation_signature_is_readable(name):
    assert op_signatures(_resolve(name))


@pytest.mark.parametrize("name", backend_operations())
def test_operation_has_a_golden_function(name):
    if name in HARNESS_GOLDENS:
        pytest.skip(f"{name}: golden written in tests/tt/golden.py")
    assert ttnn.get_golden_function(_resolve(name))


def test_harness_goldens_cover_ops_whose_wheel_golden_cannot_run():
    with pytest.raises(RuntimeError, match="does not have a golden function"):
        ttnn.get_golden_function(ttnn.empty)
    rotary = ttnn.get_golden_function(ttnn.experimental.rotary_embedding)
    x = torch.randn(1, 1, 32, 64)
    with pytest.raises(TypeError):  # the wheel's golden covers decode (token_idx) only
        rotary(x, x, x, None)


def test_signature_check_accepts_the_real_call_and_rejects_wrong_ones():
    x = object()
    check_call("rms_norm", ttnn.rms_norm, (x,), {"epsilon": 1e-5, "weight": x})
    with pytest.raises(TypeError, match="keyword"):
        check_call("rms_norm", ttnn.rms_norm, (x, x), {})  # weight is keyword-only
    with pytest.raises(TypeError):
        check_call("rms_norm", ttnn.rms_norm, (x,), {"eps": 1e-5})
    check_call("empty", ttnn.empty, ([2, 3], ttnn.bfloat16, ttnn.TILE_LAYOUT, x), {})
    check_call("slice", ttnn.slice, (x, [0], [1], [1]), {})  # the (starts, ends, steps) overload


def test_golden_mode_binds_every_call_to_the_real_signature():
    harness = GoldenTTNN()
    with pytest.raises(TypeError, match="ttnn.softmax does not accept"):
        harness.softmax(None, dim=-1, stable=True)


@pytest.fixture(scope="module")
def mock_cluster() -> dict:
    if not MOCK_CLUSTER.exists():
        pytest.skip(f"no mock cluster descriptor at {MOCK_CLUSTER}")
    env = {**os.environ, "TT_METAL_MOCK_CLUSTER_DESC_PATH": str(MOCK_CLUSTER)}
    done = subprocess.run([sys.executable, "-m", "tests.tt.mock_cluster_probe"], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=300)
    lines = [line for line in done.stdout.splitlines() if line.startswith("PROBE-JSON ")]
    assert done.returncode == 0 and lines, done.stderr[-3000:]
    return json.loads(lines[-1].removeprefix("PROBE-JSON "))


def test_mock_cluster_board_detection(mock_cluster):
    assert (mock_cluster["board"], mock_cluster["arch"], mock_cluster["devices"]) == (
        "N150", "wormhole_b0", 1)


def test_host_tile_layout_pads_to_32_and_keeps_the_logical_shape(mock_cluster):
    assert mock_cluster["tile_shape"] == [[3, 50, 70], [3, 64, 96]]


def test_host_dtypes_round_trip(mock_cluster):
    assert mock_cluster["bf16_roundtrip"]
    assert mock_cluster["fp32_roundtrip"]
    assert mock_cluster["int32_roundtrip"]  # labels keep -100


def test_golden_host_tensors_model_the_real_tile_padding(mock_cluster):
    for shape, (real, model) in mock_cluster["padded_shapes"].items():
        assert real == model, shape


def test_host_ops_agree_with_their_golden_functions(mock_cluster):
    assert mock_cluster["reshape_matches_torch"]
    assert mock_cluster["typecast_matches_golden"]
    assert mock_cluster["row_major_pad_matches_golden"]
    assert mock_cluster["full_odd_shape"] == [[3, 5], True]


def test_tile_padding_is_not_a_logical_pad_as_the_harness_assumes(mock_cluster):
    """Why the backend pads in ROW_MAJOR (and golden mode refuses TILE pads)."""
    assert "front_padding_is_zero" in mock_cluster["front_pad_error"]
    assert mock_cluster["tile_pad_shape"] == [3, 5]
