"""Golden mode: a captured step on the tt backend replays as a ttnn trace, one
`execute_trace` per step, with the numbers of the eager step."""

from __future__ import annotations

import pytest

ttnn = pytest.importorskip("ttnn")

import torch  # noqa: E402

import ttcustom as tc  # noqa: E402
from tests.tt.golden import GoldenTTNN, HarnessViolation  # noqa: E402
from tests.tt.test_golden_step import _batch  # noqa: E402
from tests.tt.tiny_llama import TinyLlama  # noqa: E402
from ttcustom.backends.tt import TTBackend  # noqa: E402
from ttcustom.optim import SGD, clip_grad_norm_  # noqa: E402

pytestmark = pytest.mark.tt

STEPS = 4


def _train(backend, captured: bool):
    """Losses of STEPS steps: a traced forward + backward + clip, then an SGD update."""
    tc.manual_seed(0)
    model = TinyLlama(device=backend, dtype=torch.float32)
    optimizer = SGD(model.parameters(), lr=0.1)

    def gradients(input_ids, labels):
        loss = model(input_ids=input_ids, labels=labels)
        loss.backward()
        clip_grad_norm_(model.parameters(), 1.0)
        return loss

    def update():
        optimizer.step()
        optimizer.zero_grad()

    if captured:
        gradients = tc.compile_step(gradients, model=model, optimizer=optimizer)
        update = tc.compile_step(update, model=model, optimizer=optimizer)
    losses, executions = [], []
    for _ in range(STEPS):
        batch = _batch()
        before = trace_executions(gradients)
        if captured:
            loss = gradients(batch["input_ids"], batch["labels"])
        else:
            loss = gradients(tc.tensor(batch["input_ids"], backend=backend),
                             tc.tensor(batch["labels"], backend=backend))
        update()
        executions.append(trace_executions(gradients) - before)
        losses.append(loss.item())
    return losses, executions, gradients


def trace_executions(step) -> int:
    """execute_trace calls of a captured step's trace runners so far (0 when eager)."""
    entries = getattr(step, "_entries", {}).values()
    return sum(e["runner"].executions for e in entries if isinstance(e, dict))


@pytest.fixture
def second_backend():
    backend = TTBackend(ttnn=GoldenTTNN())
    yield backend
    backend.close()


def test_a_captured_step_runs_as_one_trace_execution_per_step(golden_backend, second_backend):
    eager, _, _ = _train(golden_backend, captured=False)
    losses, executions, step = _train(second_backend, captured=True)
    # call 1 records (dry) and runs op by op (kernels compile), call 2 records the
    # trace and executes it, every later call only executes it
    assert executions == [0, 1, 1, 1]
    assert second_backend.ttnn.calls["execute_trace"] == STEPS - 1
    assert losses == eager
    assert step.stats["replays"] == STEPS


def test_a_traced_step_dispatches_only_the_batch_copies_and_the_execution(second_backend):
    _, _, step = _train(second_backend, captured=True)
    batch = _batch()
    calls = second_backend.ttnn.calls
    calls.clear()
    step(batch["input_ids"], batch["labels"])
    ops = {name: n for name, n in calls.items() if name not in ("from_torch",)}
    assert ops == {"copy": 2, "execute_trace": 1, "add": 1}  # batch copies, trace, loss copy


def test_host_transfers_inside_a_trace_capture_are_rejected(golden_backend):
    T, mesh = golden_backend.ttnn, golden_backend.device.mesh
    array = golden_backend.full((2, 2), 1.0, torch.float32)
    trace = T.begin_trace_capture(mesh, cq_id=0)
    with pytest.raises(HarnessViolation, match="inside a trace capture"):
        golden_backend.download(array)
    T.end_trace_capture(mesh, trace, cq_id=0)


def test_a_traced_step_that_updates_its_inputs_updates_them_once(golden_backend,
                                                                  second_backend):
    """Clipping gradients that exist before the step (the Trainer's norm program):
    in place on the step's inputs, once per execution."""

    def grads_after_clipping(backend, captured):
        tc.manual_seed(0)
        model = TinyLlama(device=backend, dtype=torch.float32)
        params = list(model.parameters())
        clip = lambda: clip_grad_norm_(params, 1e-3)  # noqa: E731
        if captured:
            clip = tc.compile_step(clip, model=model)
        batch = _batch()
        for _ in range(3):
            for p in params:
                p.grad = None
            model(input_ids=tc.tensor(batch["input_ids"], backend=backend),
                  labels=tc.tensor(batch["labels"], backend=backend)).backward()
            norm = clip().item()
        return norm, [p.grad.to_torch() for p in params], clip

    norm, grads, _ = grads_after_clipping(golden_backend, captured=False)
    traced_norm, traced, clip = grads_after_clipping(second_backend, captured=True)
    assert trace_executions(clip) == 2
    assert traced_norm == norm
    assert all(torch.equal(a, b) for a, b in zip(traced, grads))
