"""The generated ops reference (docs/hooks/op_table.py) says what the code runs: every
Function is reachable from an op, and the primitives listed for an op are exactly those
its forward and backward call when they run."""

from __future__ import annotations

import importlib
import pkgutil

import pytest
import torch

import ttcustom as tc
import ttcustom.functional as F
import ttcustom.ops
from tests.test_docs import _load
from ttcustom.autograd.function import Function
from ttcustom.backends import ReferenceBackend

op_table = _load("op_table")
OPS = {op.name: op for op in op_table.ops()}


def _subclasses(cls: type) -> set[type]:
    found = set()
    for sub in cls.__subclasses__():
        found |= {sub} | _subclasses(sub)
    return found


def test_every_function_of_the_ops_package_has_a_row():
    for module in pkgutil.walk_packages(ttcustom.ops.__path__, "ttcustom.ops."):
        importlib.import_module(module.name)
    functions = {c for c in _subclasses(Function)
                 if c.__module__.startswith("ttcustom.ops.") and not c.__name__.startswith("_")}
    listed = {c for op in OPS.values() for c in op.functions}
    assert functions and functions <= listed, sorted(c.__name__ for c in functions - listed)


def test_every_public_functional_op_has_a_row():
    public = {n for n, v in vars(F).items() if callable(v) and not n.startswith("_")
              and getattr(v, "__module__", None) == F.__name__}
    assert set(OPS) == public


def test_every_primitive_has_an_implementation_per_backend():
    table = op_table.primitive_table()
    for name in op_table.primitives():
        row = next(line for line in table.splitlines() if line.startswith(f"| `{name}` |"))
        reference, tt = row.split(" | ")[-2:]
        assert f"ReferenceBackend.{name}`" in reference and f".{name}`" in tt, row


def test_a_tt_primitive_is_listed_in_its_topic_module():
    from ttcustom.backends.tt.backend import TTBackend

    assert op_table.implementation(TTBackend, "cross_entropy_backward") == [
        "tt/losses.py:LossOps.cross_entropy_backward"]


def test_a_tt_primitive_names_the_helper_of_another_module_it_calls():
    from ttcustom.backends.tt.backend import TTBackend

    assert op_table.implementation(TTBackend, "reshape") == [
        "tt/backend.py:TTBackend.reshape", "tt/arrays.py:resolve_shape"]


CASES = {  # op -> a call of it, given `t(*shape)` making a leaf that requires grad
    "add": lambda t: F.add(t(2, 3), t(3)),
    "div": lambda t: F.div(t(2, 3), t(2, 3)),
    "tanh": lambda t: F.tanh(t(4)),
    "swiglu": lambda t: F.swiglu(t(2, 4), t(2, 4)),
    "matmul": lambda t: F.matmul(t(2, 3, 4), t(4, 5)),
    "linear": lambda t: F.linear(t(2, 4), t(3, 4), t(3)),
    "sum": lambda t: F.sum(t(2, 3), dim=1),
    "cat": lambda t: F.cat([t(2, 3), t(1, 3)]),
    "rms_norm": lambda t: F.rms_norm(t(2, 8), t(8)),
    "softmax": lambda t: F.softmax(t(2, 5), dim=-1),
    "log_softmax": lambda t: F.log_softmax(t(2, 5), dim=-1),
    "rotary_embedding": lambda t: F.rotary_embedding(t(1, 2, 3, 4), t(3, 4), t(3, 4)),
    "cross_entropy": lambda t: F.cross_entropy(
        t(4, 6), tc.from_torch(torch.tensor([0, 5, 2, 1]), backend=t(1).backend)),
    "dropout": lambda t: F.dropout(t(4, 4), p=0.5),
}


class Recorder:
    """The primitives the Functions of one op call, by phase (forward, backward)."""

    def __init__(self, backend: ReferenceBackend) -> None:
        self.phase: str | None = None
        self.calls: dict[str, set[str]] = {"forward": set(), "backward": set()}
        for name in backend.primitives():
            setattr(backend, name, self._recording(name, getattr(backend, name)))

    def _recording(self, name, method):
        def run(*args, **kwargs):
            if self.phase is not None:
                self.calls[self.phase].add(name)
            return method(*args, **kwargs)
        return run

    def watch(self, functions: tuple[type, ...], monkeypatch) -> None:
        for cls in functions:
            for phase in ("forward", "backward"):
                method = staticmethod(self._in_phase(phase, getattr(cls, phase)))
                monkeypatch.setattr(cls, phase, method)

    def _in_phase(self, phase, method):
        def run(*args, **kwargs):
            self.phase = phase
            try:
                return method(*args, **kwargs)
            finally:
                self.phase = None
        return run


@pytest.mark.parametrize("name", sorted(CASES))
def test_listed_primitives_are_the_ones_the_op_runs(name, monkeypatch):
    op = OPS[name]
    backend = ReferenceBackend("cpu")
    recorder = Recorder(backend)
    recorder.watch(op.functions, monkeypatch)
    out = CASES[name](lambda *shape: tc.randn(*shape, requires_grad=True, backend=backend))
    out.sum().backward()
    assert recorder.calls == {"forward": set(op.forward), "backward": set(op.backward)}
