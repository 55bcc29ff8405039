"""Golden mode: q, k and v with LoRA on frozen bases run as one grouped linear (the
fused ttnn calls of `ttcustom.backends.tt.grouped`; values: the grouped_linear cases of
test_golden_ops.py), against three lora_linear ops."""

from __future__ import annotations

from typing import Any

import pytest

ttnn = pytest.importorskip("ttnn")

import torch  # noqa: E402

import ttcustom as tc  # noqa: E402
from ttcustom import functional as F  # noqa: E402
from ttcustom.backends.tt.cost import measure  # noqa: E402
from ttcustom.lora import LoRALinear  # noqa: E402
from ttcustom.nn import Linear  # noqa: E402
from ttcustom.optim import SGD  # noqa: E402

pytestmark = pytest.mark.tt

TOKENS, IN, R = 64, 96, 16  # aligned tokens and features, rank 16 as in TinyLlama
OUTS = (64, 32, 32)  # GQA: q wider than k and v


def _qkv(backend, scaling=2.0):
    g = torch.Generator().manual_seed(0)
    make = lambda *shape, grad: tc.tensor(torch.randn(*shape, generator=g), backend=backend,  # noqa: E731
                                          dtype=torch.bfloat16, requires_grad=grad)
    x = make(TOKENS, IN, grad=True)
    terms = [F.LinearTerms(make(out, IN, grad=False), None, make(R, IN, grad=True),
                           make(out, R, grad=True), scaling) for out in OUTS]
    return x, terms, make(TOKENS, sum(OUTS), grad=False)


def _calls(backend, step):
    step()  # the frozen weights' layouts and the mask are made on first use
    return measure(backend, step).calls


def _step(x, terms, grad, grouped):
    def run():
        if grouped:
            y = F.grouped_linear(x, terms)
        else:
            y = F.cat([F.lora_linear(x, t.weight, None, t.lora_A, t.lora_B, t.scaling)
                       for t in terms], -1)
        if grad is not None:
            y.backward(grad)
            x.grad = None
            for t in terms:
                t.lora_A.grad = t.lora_B.grad = None
                if t.bias is not None:
                    t.bias.grad = None
    return run


def test_forward_is_nine_ttnn_calls(golden_backend):
    x, terms, _ = _qkv(golden_backend)
    calls = _calls(golden_backend, _step(x, terms, None, grouped=True))
    assert calls == {"concat": 3, "fill_implicit_tile_padding": 2, "matmul": 1, "linear": 1,
                     "multiply": 1, "addmm": 1}


def test_backward_is_twelve_ttnn_calls(golden_backend):
    x, terms, grad = _qkv(golden_backend)
    forward = _calls(golden_backend, _step(x, terms, None, grouped=True))
    both = _calls(golden_backend, _step(x, terms, grad, grouped=True))
    backward = {op: n - forward.get(op, 0) for op, n in both.items() if n != forward.get(op, 0)}
    assert backward == {"matmul": 4, "addmm": 1, "multiply": 1, "slice": 6}


def test_fewer_calls_than_three_lora_linears(golden_backend):
    x, terms, grad = _qkv(golden_backend)
    grouped = sum(_calls(golden_backend, _step(x, terms, grad, grouped=True)).values())
    separate = sum(_calls(golden_backend, _step(x, terms, grad, grouped=False)).values())
    # three lora_linear: 6 + 6 calls each; their outputs' concat and its backward's 3 slices
    assert (grouped, separate) == (21, 36 + 1 + 3)


def test_scaling_one_multiplies_nothing_in_the_backward(golden_backend):
    x, terms, grad = _qkv(golden_backend, scaling=1.0)
    assert _calls(golden_backend, _step(x, terms, grad, grouped=True))["multiply"] == 1


def test_a_written_member_weight_renews_the_group_layout(golden_backend, reference_backend):
    outs = []
    for backend in (golden_backend, reference_backend):
        x, terms, _ = _qkv(backend)
        F.grouped_linear(x, terms)
        with tc.no_grad():
            terms[1].weight.copy_(terms[1].weight * 2.0)
        outs.append(F.grouped_linear(x, terms).to_torch().float())
    torch.testing.assert_close(outs[0], outs[1], rtol=2e-2, atol=0.5)
    x, terms, _ = _qkv(golden_backend)
    F.grouped_linear(x, terms)
    assert golden_backend.frozen_groups.get(*(t.weight.data for t in terms)) is not None
    golden_backend._written(terms[2].weight.data)
    assert golden_backend.frozen_groups.get(*(t.weight.data for t in terms)) is None


def test_the_first_step_builds_layouts_and_mask_on_the_device(golden_backend):
    x, terms, grad = _qkv(golden_backend)
    golden_backend.transfers.reset()
    _step(x, terms, grad, grouped=True)()
    assert golden_backend.transfers.uploads == 0


def test_a_group_the_fused_products_cannot_serve_holds_each_weight(golden_backend):
    """A LoRA dropout (each member's own A input): the per-member ops, each frozen
    weight laid out on its own, so no step transposes a weight."""
    x, terms, grad = _qkv(golden_backend)
    mask = tc.tensor(torch.ones(TOKENS, IN), backend=golden_backend, dtype=torch.bfloat16)
    q = terms[0]

    def step():
        dropped = F.LinearTerms(q.weight, None, q.lora_A, q.lora_B, 2.0, F.mul(x, mask))
        _step(x, [dropped, *terms[1:]], grad, grouped=True)()

    step()
    again = measure(golden_backend, step)
    assert "transpose" not in again.calls
    # transposed per step: the LoRA B's [out, r] (trained; r padded to 32), no base weight
    assert again.copied["linear.transpose"] == sum(out * 32 * 2 for out in OUTS)
    assert golden_backend.frozen_groups.copies() == []
    assert len(golden_backend.frozen.copies()) == 3


def test_biases_join_the_lora_product_in_two_calls(golden_backend):
    """Qwen2's q, k, v biases: concatenated (and shaped to a row) per forward, added by
    the LoRA product's ttnn.linear; a trained bias's gradient sliced from one sum."""
    x, terms, grad = _qkv(golden_backend)
    g = torch.Generator().manual_seed(1)
    biased = [F.LinearTerms(t.weight, tc.tensor(torch.randn(out, generator=g),
                                                backend=golden_backend, dtype=torch.bfloat16,
                                                requires_grad=i == 1),
                            t.lora_A, t.lora_B, t.scaling)
              for i, (t, out) in enumerate(zip(terms, OUTS))]
    forward = _calls(golden_backend, _step(x, biased, None, grouped=True))
    both = _calls(golden_backend, _step(x, biased, grad, grouped=True))
    plain = _calls(golden_backend, _step(x, terms, grad, grouped=True))
    assert golden_backend.frozen_groups.get(*(t.weight.data for t in terms)) is not None
    assert forward["concat"] == 4 and forward["reshape"] == 1
    extra = {op: n - plain.get(op, 0) for op, n in both.items() if n != plain.get(op, 0)}
    # the bias row's concat and reshape; moreh_sum's [1, O] reshaped to [O]; k's slice
    assert extra == {"concat": 1, "reshape": 2, "moreh_sum": 1, "slice": 1}


def test_a_pending_input_gradient_joins_in_addmm(golden_backend):
    """x feeds two groups: the second backward adds the first's d x inside its addmm
    (`Function.accumulates`), no separate add."""
    x, terms, grad = _qkv(golden_backend)

    def step():
        (F.grouped_linear(x, terms) + F.grouped_linear(x, terms)).backward(grad)
        x.grad = None
        for t in terms:
            t.lora_A.grad = t.lora_B.grad = None

    calls = _calls(golden_backend, step)
    assert calls["add"] == 1 + 6  # the forward's sum; the second A and B gradients added
    assert calls["addmm"] == 2 + 1 + 2  # two forwards; d x: g_b A, then into + g W + g_b A


class _QKV(tc.nn.Module):
    """q, k, v LoRA on frozen bases, as one grouped linear."""

    def __init__(self, backend) -> None:
        super().__init__()
        tc.manual_seed(0)
        self.proj = tc.nn.ModuleList(
            [LoRALinear(Linear(IN, out, bias=False, device=backend, dtype=torch.bfloat16),
                        r=R, alpha=32) for out in OUTS])
        with tc.no_grad():
            for layer in self.proj:
                layer.lora_B.copy_(tc.randn(*layer.lora_B.shape) * 0.1)

    def forward(self, x):
        return F.grouped_linear(x, [m.linear_terms(x) for m in self.proj])


def _trained(backend, captured: bool) -> tuple[list[float], Any]:
    """Losses of 4 steps: a (traced) forward + backward, then an eager SGD update (its
    learning rate would be a per-step scalar of the trace)."""
    model = _QKV(backend)
    optimizer = SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)

    def gradients(x):
        loss = (model(x) ** 2).mean()
        loss.backward()
        return loss

    if captured:
        gradients = tc.compile_step(gradients, model=model, optimizer=optimizer, compile=True)
    g = torch.Generator().manual_seed(2)
    losses = []
    for _ in range(4):
        losses.append(gradients(tc.tensor(torch.randn(TOKENS, IN, generator=g),
                                          backend=backend, dtype=torch.bfloat16)).item())
        optimizer.step()
        optimizer.zero_grad()
    return losses, gradients


def test_a_captured_grouped_step_replays_as_a_trace_with_the_eager_numbers(golden_backend):
    from tests.tt.golden import GoldenTTNN
    from ttcustom.backends.tt import TTBackend

    eager, _ = _trained(golden_backend, captured=False)
    with TTBackend(ttnn=GoldenTTNN()) as second:
        losses, step = _trained(second, captured=True)
        assert losses == eager
        # the first call runs eagerly; every later one is one trace execution
        assert [e["runner"].executions for e in step._entries.values()] == [3]
