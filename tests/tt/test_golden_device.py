"""Device management of the tt backend in golden mode: board detection, describe(),
mesh opening, and closing on exit, on errors and twice."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from importlib import metadata
from pathlib import Path

import pytest

ttnn = pytest.importorskip("ttnn")

import torch  # noqa: E402

from tests.tt.golden import GoldenTTNN, HarnessViolation  # noqa: E402
from ttcustom.backends.tt import TTBackend, board_mesh_shape  # noqa: E402

pytestmark = pytest.mark.tt

REPO = Path(__file__).resolve().parents[2]


def test_describe_reports_board_arch_and_mesh(golden_backend):
    info = golden_backend.describe()
    assert info == {
        "backend": "tt", "board": "N150", "arch": "wormhole_b0", "devices_available": 1,
        "mesh_shape": [1, 1], "board_mesh_shape": [1, 1], "ttnn": metadata.version("ttnn"),
        "open": True, "default_dtype": "bfloat16",
    }


@pytest.mark.parametrize("board, mesh", [("N150", (1, 1)), ("N300", (1, 2)), ("T3K", (1, 8)),
                                         ("P100", (1, 1)), ("P150", (1, 1)),
                                         ("GALAXY", (1, 32))])
def test_board_is_detected_with_its_data_parallel_mesh(board, mesh):
    with TTBackend(ttnn=GoldenTTNN(board=board, devices=mesh[0] * mesh[1])) as backend:
        assert backend.describe()["board"] == board
        assert board_mesh_shape(board) == mesh


def test_mesh_replicates_uploads_and_reads_back_one_replica():
    harness = GoldenTTNN(board="N300", devices=2)
    with TTBackend(ttnn=harness, mesh_shape=(1, 2)) as backend:
        value = torch.arange(6.0).reshape(2, 3)
        array = backend.upload(value, torch.float32)
        torch.testing.assert_close(backend.download(array), value)
        assert backend.describe()["mesh_shape"] == [1, 2]
        assert harness.calls["replicate_tensor_to_mesh_mapper"] == 1


def test_mesh_larger_than_the_board_is_refused_before_opening():
    harness = GoldenTTNN(board="N150", devices=1)
    with pytest.raises(RuntimeError, match=r"needs 8 devices but the N150 board has 1"):
        TTBackend(ttnn=harness, mesh_shape=(1, 8))
    assert harness.calls["open_mesh_device"] == 0


def test_close_is_idempotent_and_later_ops_are_refused(golden_backend):
    golden_backend.close()
    golden_backend.close()
    assert not golden_backend.ttnn.device_open
    assert golden_backend.describe()["open"] is False
    with pytest.raises(HarnessViolation, match="after the device was closed"):
        golden_backend.full((2, 3), 1.0, torch.float32)


def test_failure_after_opening_closes_the_device():
    class ArchQueryFails(GoldenTTNN):
        def get_arch_name(self):
            raise RuntimeError("arch query failed")

    harness = ArchQueryFails()
    with pytest.raises(RuntimeError, match="arch query failed"):
        TTBackend(ttnn=harness)
    assert harness.calls["open_mesh_device"] == 1
    assert not harness.device_open


def test_context_manager_closes(golden_backend):
    harness = GoldenTTNN()
    with TTBackend(ttnn=harness):
        assert harness.device_open
    assert not harness.device_open


def test_device_is_closed_at_interpreter_exit():
    script = textwrap.dedent("""
        from tests.tt.golden import GoldenTTNN
        from ttcustom.backends.tt import TTBackend

        class Reporting(GoldenTTNN):
            def close_mesh_device(self, device):
                super().close_mesh_device(device)
                print("closed", flush=True)

        backend = TTBackend(ttnn=Reporting())
        print("opened", flush=True)
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["opened", "closed"]
