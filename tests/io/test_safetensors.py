"""ttcustom's safetensors writer and reader agree with the safetensors library both ways."""

from __future__ import annotations

import pytest
import safetensors.torch
import torch

from ttcustom.io import load_file, read_header, save_file

TENSORS = {
    "f32": torch.randn(3, 5),
    "bf16": torch.randn(7).to(torch.bfloat16),
    "f16": torch.randn(2, 2, 2).to(torch.float16),
    "i64": torch.arange(4),
    "i32": torch.arange(6, dtype=torch.int32).reshape(2, 3),
    "u8": torch.arange(9, dtype=torch.uint8),
    "bool": torch.tensor([True, False, True]),
    "scalar": torch.tensor(2.5),
    "empty": torch.zeros(0, 4),
    "strided": torch.randn(4, 6)[:, ::2],
}


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(
        a[k].dtype == b[k].dtype and torch.equal(a[k], b[k]) for k in a)


def test_a_written_file_loads_in_the_safetensors_library(tmp_path):
    save_file(TENSORS, tmp_path / "t.safetensors")
    assert _same(safetensors.torch.load_file(tmp_path / "t.safetensors"), TENSORS)


def test_metadata_is_written_as_the_library_reads_it(tmp_path):
    save_file({"w": torch.ones(2)}, tmp_path / "t.safetensors", {"trainable_only": "True"})
    with safetensors.safe_open(tmp_path / "t.safetensors", "pt") as handle:
        assert handle.metadata() == {"trainable_only": "True"}
    assert read_header(tmp_path / "t.safetensors").metadata == {"trainable_only": "True"}


def test_a_file_the_library_wrote_loads_here(tmp_path):
    safetensors.torch.save_file({k: v.contiguous() for k, v in TENSORS.items()},
                                tmp_path / "t.safetensors")
    assert _same(load_file(tmp_path / "t.safetensors"), TENSORS)


def test_a_dtype_safetensors_cannot_hold_here_is_refused_by_name(tmp_path):
    with pytest.raises(ValueError, match=r"t\.safetensors: tensor 'z' is torch\.complex64"):
        save_file({"z": torch.zeros(2, dtype=torch.complex64)}, tmp_path / "t.safetensors")
