"""Golden mode: a LoRA linear with a frozen base runs as the fused ttnn calls of
`ttcustom.backends.tt.lora` (values: the lora_linear cases of test_golden_ops.py)."""

from __future__ import annotations

import pytest

ttnn = pytest.importorskip("ttnn")

import torch  # noqa: E402

import ttcustom as tc  # noqa: E402
from ttcustom import functional as F  # noqa: E402
from ttcustom.backends.tt.cost import measure  # noqa: E402

pytestmark = pytest.mark.tt

TOKENS, IN, OUT, R = 64, 96, 64, 16  # aligned tokens and features, rank 16 as in TinyLlama


def _tensors(backend):
    g = torch.Generator().manual_seed(0)
    make = lambda *shape, grad: tc.tensor(torch.randn(*shape, generator=g), backend=backend,  # noqa: E731
                                          dtype=torch.bfloat16, requires_grad=grad)
    return (make(TOKENS, IN, grad=True), make(OUT, IN, grad=False), make(R, IN, grad=True),
            make(OUT, R, grad=True), make(TOKENS, OUT, grad=False))


def _calls(backend, step):
    step()  # the frozen weight's [in, out] copy is made on first use
    return measure(backend, step).calls


def test_forward_is_six_ttnn_calls(golden_backend):
    x, w, a, b, _ = _tensors(golden_backend)
    calls = _calls(golden_backend, lambda: F.lora_linear(x, w, None, a, b, 2.0))
    assert calls == {"matmul": 1, "multiply": 1, "fill_implicit_tile_padding": 2, "linear": 1,
                     "addmm": 1}


def test_backward_is_six_ttnn_calls_with_no_padding_fill(golden_backend):
    """A and B are zeroed once in the forward and kept: g B and the product over r
    need no fill of their own."""
    x, w, a, b, grad = _tensors(golden_backend)

    def step():
        F.lora_linear(x, w, None, a, b, 2.0).backward(grad)
        x.grad = a.grad = b.grad = None

    forward = _calls(golden_backend, lambda: F.lora_linear(x, w, None, a, b, 2.0))
    both = _calls(golden_backend, step)
    backward = {op: n - forward.get(op, 0) for op, n in both.items() if n != forward.get(op, 0)}
    assert backward == {"matmul": 4, "multiply": 1, "addmm": 1}


def test_a_shared_input_gradient_joins_in_addmm(golden_backend):
    """x feeds two LoRA linears (q and k): the second backward adds the first's d x
    inside its addmm (`Function.accumulates`), no separate add."""
    x, w, a, b, grad = _tensors(golden_backend)

    def step():
        y = F.lora_linear(x, w, None, a, b, 2.0) + F.lora_linear(x, w, None, a, b, 2.0)
        y.backward(grad)
        x.grad = a.grad = b.grad = None

    calls = _calls(golden_backend, step)
    # the forward's y = q + k; in the backward only the second A and B gradients added
    # to the first's (one adapter used twice here), none for d x
    assert calls["add"] == 1 + 2
    assert calls["addmm"] == 2 + 3  # two forwards, two d x, one more for the pending d x


def test_scaling_one_multiplies_nothing(golden_backend):
    x, w, a, b, grad = _tensors(golden_backend)

    def step():
        F.lora_linear(x, w, None, a, b, 1.0).backward(grad)
        x.grad = a.grad = b.grad = None

    assert "multiply" not in _calls(golden_backend, step)
