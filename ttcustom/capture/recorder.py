"""Recording a step as the backend primitives it calls.

While a `Recorder` is active, every top-level primitive call on its backend (one made
by the autograd engine, an op or an optimizer, not one a primitive makes inside
itself) is executed and written down as an `Instruction`: the arrays it reads become
named references (a step argument, a parameter, a buffer, optimizer state, an earlier
result), everything else is a literal of the program. Per-step values that are not
arrays (the learning rate, the step count) reach the recorder marked by `dynamic()`.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

import torch

from ttcustom.backends.base import Backend

_active: Recorder | None = None

#: primitives a captured step may not call, and why
FORBIDDEN = {
    "download": "the step reads a value back to the host (a host read can steer Python "
                "control flow; return the tensor and read it after the step)",
    "upload": "the step uploads host data itself (pass host tensors as arguments of the step)",
    "dropout_mask": "the step draws dropout masks (a new seed every step)",
}


class CaptureUnsupported(Exception):
    """This step cannot be captured; the message says why (the step then runs eagerly)."""


@dataclass(frozen=True)
class Dynamic:
    """A host value that changes from step to step (an input of the captured step)."""

    value: float
    key: tuple


def dynamic(value: float, key: tuple) -> float | Dynamic:
    """`value`, marked as the per-step input `key` while a step is being captured."""
    return value if _active is None else Dynamic(value, key)


def recording() -> bool:
    return _active is not None


@dataclass(frozen=True)
class Ref:
    """An array of the program, by its name in the generated code."""

    name: str


@dataclass(frozen=True)
class ScalarRef:
    index: int


@dataclass
class Instruction:
    op: str
    args: tuple
    kwargs: dict
    out: Any  # the result's pattern: Ref, None, or tuples/lists of them


_LITERALS = (bool, int, float, str, type(None), torch.dtype, slice, type(Ellipsis))


class Recorder:
    """Patches `backend`'s primitives for the duration of a `with` block.

    `known` maps `id(array)` to the description of where a replay finds that array
    again (see `ttcustom.capture.step`). With `dry`, in-place primitives are written
    down but not executed, so recording changes no parameter or optimizer state.
    """

    def __init__(self, backend: Backend, known: dict[int, tuple[Any, Any]], dry: bool) -> None:
        self.backend = backend
        self.known = known
        self.dry = dry
        self.instructions: list[Instruction] = []
        self.inputs: list[Any] = []  # sources, in the order of the inputs `i0, i1, ...`
        self.scalar_keys: list[tuple] = []
        self._names: dict[int, tuple[str, Any]] = {}
        self._depth = 0
        self._slots = 0

    # ------------------------------------------------------------------ patching
    def __enter__(self) -> Recorder:
        global _active
        if _active is not None:
            raise CaptureUnsupported("a step is already being captured (nested capture)")
        for name in self.backend.primitives():
            setattr(self.backend, name, self._wrap(name, getattr(self.backend, name)))
        _active = self
        return self

    def __exit__(self, *exc: object) -> None:
        global _active
        _active = None
        for name in self.backend.primitives():
            self.backend.__dict__.pop(name, None)

    def _wrap(self, op: str, primitive: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            if self._depth:
                return primitive(*args, **kwargs)
            if op in FORBIDDEN:
                raise CaptureUnsupported(FORBIDDEN[op])
            arg_refs, args = self._template(args, op)
            kwarg_refs, kwargs = self._template(kwargs, op)
            self._depth += 1
            try:
                if self.dry and op in self.backend.IN_PLACE:
                    out = list(args[2]) if op == "sgd_step" else None
                else:
                    out = primitive(*args, **kwargs)
            finally:
                self._depth -= 1
            self.instructions.append(Instruction(op, arg_refs, kwarg_refs, self.bind(out)))
            return out

        return call

    # ------------------------------------------------------------------ arrays
    def _template(self, value: Any, op: str) -> tuple[Any, Any]:
        """(value with arrays as `Ref`s and dynamics as `ScalarRef`s, the value to call with)."""
        if isinstance(value, Dynamic):
            if value.key not in self.scalar_keys:
                self.scalar_keys.append(value.key)
            return ScalarRef(self.scalar_keys.index(value.key)), value.value
        if isinstance(value, _LITERALS):
            return value, value
        if isinstance(value, (tuple, list)):
            pairs = [self._template(v, op) for v in value]
            kind = type(value) if isinstance(value, list) else tuple
            return kind(p[0] for p in pairs), kind(p[1] for p in pairs)
        if isinstance(value, dict):
            pairs = {k: self._template(v, op) for k, v in value.items()}
            return {k: p[0] for k, p in pairs.items()}, {k: p[1] for k, p in pairs.items()}
        return self.ref(value, op), value

    def ref(self, array: Any, op: str = "the step") -> Ref:
        """The name of an array the step reads."""
        entry = self._names.get(id(array))
        if entry is not None and _alive(entry[1]) is array:
            return Ref(entry[0])
        source = self.known.get(id(array))
        if source is None or source[1] is not array:
            raise CaptureUnsupported(
                f"{op} reads an array that is neither a step argument, a parameter, a "
                f"module buffer, optimizer state nor a result of the step "
                f"({type(array).__name__}); make it a buffer or an argument")
        name = f"i{len(self.inputs)}"
        self.inputs.append(source[0])
        self._names[id(array)] = (name, array)
        return Ref(name)

    def bind(self, out: Any) -> Any:
        """Name each array of a primitive's result (a new slot each)."""
        if out is None or isinstance(out, _LITERALS):
            return None
        if isinstance(out, (tuple, list)):
            return tuple(self.bind(o) for o in out)
        name = f"s{self._slots}"
        self._slots += 1
        self._names[id(out)] = (name, _weak(out))
        return Ref(name)


def _weak(array: Any) -> Any:
    try:
        return weakref.ref(array)
    except TypeError:
        return array  # not weak-referenceable: kept alive until the recording ends


def _alive(holder: Any) -> Any:
    return holder() if isinstance(holder, weakref.ref) else holder


__all__ = ["CaptureUnsupported", "Dynamic", "Instruction", "Recorder", "Ref", "ScalarRef",
           "dynamic", "recording"]
