"""Golden mode: what a training step costs the tt backend can only go down.

The figures (ttnn calls, bytes copied by data-movement ops and transposed matmul
operands, bytes of weights and optimizer state, transfers) of a one-layer step and of
each further layer are those of docs/tt_backend.md; a change that raises one fails here, a change
that lowers one should lower the recorded value too.
"""

from __future__ import annotations

import pytest
import torch

ttnn = pytest.importorskip("ttnn")

from tests.tt.step_cost import layer_cost  # noqa: E402
from ttcustom.backends.tt.cost import StepCost, measure  # noqa: E402

pytestmark = pytest.mark.tt

#: config -> ("one layer" | "per further layer") -> StepCost.summary() recorded (upper bounds);
#: the one-layer step includes the labels' shift on the device (full + slice + concat of
#: the [B, S] labels: 3 calls, 8 KiB), the model's one path for host and device labels
RECORDED = {
    "nano_trickster": {
        "one layer": {"ttnn calls": 162, "bytes copied": 3_482_624, "uploads": 2,
                      "downloads": 0, "weight bytes": 1_884_160, "optimizer bytes": 3_768_320},
        "per further layer": {"ttnn calls": 103, "bytes copied": 3_276_800, "uploads": 0,
                              "downloads": 0, "weight bytes": 1_736_704,
                              "optimizer bytes": 3_473_408},
    },
    # weight bytes: the frozen weights' laid-out copies (made once) are held, q/k/v's
    # twice (the grouped product's [in, q+k+v] and [q+k+v, in])
    "tinyllama_lora": {
        "one layer": {"ttnn calls": 142, "bytes copied": 4_247_808, "uploads": 2,
                      "downloads": 0, "weight bytes": 581_074_944, "optimizer bytes": 1_638_400},
        "per further layer": {"ttnn calls": 100, "bytes copied": 4_239_360, "uploads": 0,
                              "downloads": 0, "weight bytes": 187_727_872,
                              "optimizer bytes": 1_638_400},
    },
}


@pytest.mark.parametrize("name", [
    "nano_trickster",
    pytest.param("tinyllama_lora", marks=pytest.mark.slow),
])
def test_step_cost_does_not_grow(name):
    one, layer = layer_cost(name)
    print(f"\n{one.format(f'{name} one layer')}\n{layer.format(f'{name} per further layer')}")
    for part, cost in (("one layer", one), ("per further layer", layer)):
        measured, recorded = cost.summary(), RECORDED[name][part]
        grown = {k: (measured[k], recorded[k]) for k in recorded if measured[k] > recorded[k]}
        assert not grown, f"{name} {part}: (measured, recorded) {grown}"


def test_meter_counts_calls_copies_and_transposed_operands(golden_backend):
    b = golden_backend
    x = b.upload(torch.ones(64, 32), dtype=torch.bfloat16)
    w = b.upload(torch.ones(96, 32), dtype=torch.bfloat16)

    def step():
        b.linear(x, w, None)  # transpose_b: w is copied (96 x 32 bfloat16)
        b.permute(x, (1, 0))  # a 32 x 64 bfloat16 copy

    cost = measure(b, step)
    assert cost.calls == {"linear": 1, "permute": 1}
    assert cost.copied == {"linear.transpose": 96 * 32 * 2, "permute": 32 * 64 * 2}
    assert (cost.uploads, cost.downloads) == (0, 0)


def test_layer_figures_are_signed_differences():
    one = StepCost(calls={"add": 3, "neg": 1}, uploads=2)
    two = StepCost(calls={"add": 5, "exp": 1}, uploads=2)
    assert two.minus(one).calls == {"add": 2, "exp": 1, "neg": -1}
    assert two.minus(one).uploads == 0


def test_bench_prints_each_config(monkeypatch, capsys):
    from benchmarks import tt_cost

    monkeypatch.setattr(tt_cost, "layer_cost", lambda name, make: (
        StepCost(calls={"add": 3}, uploads=2), StepCost(calls={"add": 2})))
    assert tt_cost.main(["--golden", "--config", "nano_trickster"]) == 0
    out = capsys.readouterr().out
    assert "nano_trickster, one layer: ttnn calls 3" in out
    assert "nano_trickster, each further layer: ttnn calls 2" in out
