"""Atomic files and directories: the previous content survives a failed write."""

from __future__ import annotations

import pytest

from ttcustom.io import atomic_file


def test_a_failed_file_write_keeps_the_previous_file_and_no_temporary(tmp_path):
    path = tmp_path / "curves.png"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_file(path) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("plot failed")
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["curves.png"]


def test_a_completed_file_write_replaces_the_file(tmp_path):
    path = tmp_path / "curves.png"
    path.write_bytes(b"old")
    with atomic_file(path) as tmp:
        tmp.write_bytes(b"new")
    assert path.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["curves.png"]
