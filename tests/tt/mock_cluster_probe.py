"""Runs the host-side ttnn operations that work without a card, under a mock N150
cluster descriptor (TT_METAL_MOCK_CLUSTER_DESC_PATH), and prints the results as JSON.

Run by test_contract.py in a subprocess: the cluster is chosen once per process.
"""

from __future__ import annotations

import json

import torch
import ttnn

from tests.tt.golden import HostTensor
from ttcustom.backends.tt.device import detect_board


def _tile(value: torch.Tensor, dtype) -> ttnn.Tensor:
    return ttnn.from_torch(value, dtype, layout=ttnn.TILE_LAYOUT)


def _error(fn) -> str:
    try:
        fn()
    except RuntimeError as error:
        return str(error).splitlines()[0]
    return ""


def main() -> dict:
    out: dict = {
        "board": detect_board(ttnn),
        "arch": ttnn.get_arch_name(),
        "devices": ttnn.GetNumAvailableDevices(),
    }
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 50, 70, generator=g)
    t = _tile(x, ttnn.bfloat16)
    out["tile_shape"] = [list(t.shape), list(t.padded_shape)]
    out["bf16_roundtrip"] = torch.equal(ttnn.to_torch(t), x.to(torch.bfloat16))
    out["fp32_roundtrip"] = torch.equal(ttnn.to_torch(_tile(x, ttnn.float32)), x)
    ints = torch.tensor([[5, -100, 7], [0, 99, -100]], dtype=torch.int32)
    out["int32_roundtrip"] = torch.equal(ttnn.to_torch(_tile(ints, ttnn.int32)), ints)
    out["padded_shapes"] = {}
    for shape in [(), (5,), (3, 50, 70), (2, 1, 33, 64)]:
        real = _tile(torch.zeros(shape), ttnn.bfloat16)
        model = HostTensor(torch.zeros(shape), ttnn.bfloat16, ttnn.TILE_LAYOUT)
        out["padded_shapes"][str(shape)] = [list(real.padded_shape), list(model.padded_shape)]
    # On the host a TILE reshape is a view: right when the last dim and the tiles stay
    # (the backend reshapes device tensors only, where ttnn moves the data).
    y = torch.randn(2, 64, 64, generator=g)
    reshaped = ttnn.to_torch(ttnn.reshape(_tile(y, ttnn.bfloat16), [4, 32, 64]))
    out["reshape_matches_torch"] = torch.equal(reshaped, y.to(torch.bfloat16).reshape(4, 32, 64))
    cast = ttnn.to_torch(ttnn.typecast(t, ttnn.float32))
    out["typecast_matches_golden"] = torch.equal(
        cast, ttnn.get_golden_function(ttnn.typecast)(x.to(torch.bfloat16), ttnn.float32))
    small = _tile(torch.ones(3, 5), ttnn.bfloat16)
    out["front_pad_error"] = _error(lambda: ttnn.pad(small, [(1, 0), (0, 2)], 0.0))
    # a TILE pad does not grow the logical shape; a ROW_MAJOR pad does, as the golden
    out["tile_pad_shape"] = list(ttnn.pad(small, [(0, 1), (0, 2)], 7.0).shape)
    rows = ttnn.from_torch(torch.ones(3, 5), ttnn.bfloat16, layout=ttnn.ROW_MAJOR_LAYOUT)
    padded = ttnn.to_torch(ttnn.pad(rows, [(1, 1), (0, 2)], 7.0))
    golden_pad = ttnn.get_golden_function(ttnn.pad)(torch.ones(3, 5, dtype=torch.bfloat16),
                                                    [(1, 1), (0, 2)], 7.0)
    out["row_major_pad_matches_golden"] = torch.equal(padded, golden_pad)
    full = ttnn.full([3, 5], 1.5, ttnn.bfloat16, ttnn.TILE_LAYOUT)
    out["full_odd_shape"] = [list(full.shape), bool((ttnn.to_torch(full) == 1.5).all())]
    return out


if __name__ == "__main__":
    print("PROBE-JSON " + json.dumps(main()))
