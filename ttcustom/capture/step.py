"""`compile_step`: run a training step once under the recorder, then replay its program.

    @tc.compile_step(model=model, optimizer=opt)
    def train_step(input_ids, labels):
        loss = model(input_ids, labels=labels).loss
        loss.backward()
        tc.optim.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad()
        return loss

    loss = train_step(ids, labels)      # host torch tensors are uploaded as inputs

A call whose guard key (argument shapes and dtypes, which parameters train, which hold
a gradient, train/eval mode, grad mode) has no program yet is recorded *dry* (in-place
updates written down, not executed, and the optimizer's bookkeeping rolled back) and
then replayed, so every step a program exists for runs the same code: a run resumed
from a checkpoint replays what the uninterrupted run replayed. Steps that cannot be
captured (see `CaptureUnsupported`) run eagerly, with the reason logged once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import torch

from ttcustom.autograd.function import is_grad_enabled
from ttcustom.autograd.tensor import Tensor
from ttcustom.capture import program as prog
from ttcustom.capture.recorder import CaptureUnsupported, Recorder
from ttcustom.optim.optimizer import Optimizer

log = logging.getLogger("ttcustom.capture")

_EAGER = "eager"

#: programs one step keeps (one per guard key); calls with further keys run eagerly, as
#: each program costs a capture and a compilation (batches padded to many lengths)
MAX_PROGRAMS = 4


class _Warmup(Exception):
    """The recorded call created optimizer state: run it eagerly, capture the next one."""


class CapturedStep:
    """The callable `compile_step` returns; `stats` counts replays and eager calls."""

    def __init__(self, fn: Callable[..., Any], model: Any, optimizer: Any = None,
                 compile: bool = True, eager: Callable[..., Any] | None = None) -> None:
        self.fn = fn
        self.eager = eager
        self.model = model
        self.optimizer = optimizer
        self.compile = compile
        self.params: list[Tensor] = list(dict.fromkeys(model.parameters()))
        self.buffers: list[Tensor] = list(dict.fromkeys(model.buffers()))
        self.backend = self.params[0].backend
        self._entries: dict[tuple, Any] = {}
        self.stats = {"captures": 0, "replays": 0, "eager": 0}
        self.reasons: dict[tuple, str] = {}

    def __call__(self, *args: Any) -> Any:
        key = self._key(args)
        try:
            entry = self._entries.get(key)
        except TypeError:  # an unhashable argument: no program can be keyed by it
            return self._eager(args)
        if entry is None:
            entry = self._capture(key, args)
        if entry is _EAGER:
            return self._eager(args)
        return self._replay(entry, args)

    # ------------------------------------------------------------------ guards
    def _key(self, args: tuple) -> tuple:
        parts: list[Any] = []
        for a in args:
            if isinstance(a, torch.Tensor):
                parts.append(("host", tuple(a.shape), a.dtype))
            elif isinstance(a, Tensor):
                parts.append(("tensor", a.shape, a.dtype))
            else:
                parts.append(("value", a))
        params = self.params
        return (tuple(parts), tuple(p.requires_grad for p in params),
                tuple(p.grad is None for p in params), getattr(self.model, "training", True),
                is_grad_enabled())

    # ------------------------------------------------------------------ eager
    def _eager(self, args: tuple) -> Any:
        self.stats["eager"] += 1
        if self.eager is not None:
            return self.eager(*args)
        return self.fn(*(self._as_tensor(a) for a in args))

    def _as_tensor(self, value: Any) -> Any:
        if isinstance(value, torch.Tensor):
            return Tensor(self.backend.upload(value), self.backend)
        return value

    # ------------------------------------------------------------------ capture
    def _capture(self, key: tuple, args: tuple) -> Any:
        try:
            if sum(e is not _EAGER for e in self._entries.values()) >= MAX_PROGRAMS:
                raise CaptureUnsupported(
                    f"the step was already captured for {MAX_PROGRAMS} argument shapes; "
                    "pack or pad batches to one length to replay one program")
            entry = self._record(args)
        except _Warmup:
            return _EAGER  # not cached: the next call records again
        except Exception as unsupported:  # noqa: BLE001  (eager runs it again and raises
            # what is the caller's error; the recording rolled everything back)
            if not isinstance(unsupported, CaptureUnsupported):
                unsupported = f"recording it raised {type(unsupported).__name__}: {unsupported}"
            self.reasons[key] = str(unsupported)
            log.warning("step not captured, running it eagerly: %s", unsupported)
            entry = _EAGER
        self._entries[key] = entry
        return entry

    def _record(self, args: tuple) -> dict:
        hooked = [p for p in self.params if p._post_accumulate_grad_hooks]
        if hooked:
            raise CaptureUnsupported(f"{len(hooked)} parameter(s) have gradient hooks "
                                     "(e.g. DistributedDataParallel's all-reduce)")
        opt = self.optimizer
        if opt is not None and type(opt)._advance is Optimizer._advance:
            raise CaptureUnsupported(f"{type(opt).__name__} has no capturable form (_advance)")
        tensors = [self._as_tensor(a) for a in args]
        known = self._known(tensors)
        grads = [p.grad for p in self.params]
        state = self._optimizer_state()
        recorder = Recorder(self.backend, known, dry=True)
        try:
            with recorder:
                result = self.fn(*tensors)
                template, outputs = self._outputs(recorder, result)
            participants = self._participants(state)
            if self._created_state(state):
                raise _Warmup
        finally:
            for p, g in zip(self.params, grads):
                p.grad = g
            self._restore_optimizer_state(state)
        program = prog.build(recorder.instructions, recorder.inputs, recorder.scalar_keys,
                             outputs, self.backend)
        self.stats["captures"] += 1
        log.info("captured a step: %d primitive calls, %d inputs, %d per-step scalars",
                 program.ops, len(program.inputs), len(program.scalar_keys))
        runner = self.backend.compile_program(program, self.compile)
        return {"program": program, "runner": runner, "template": template,
                "participants": participants}

    def _known(self, tensors: list[Any]) -> dict[int, tuple[Any, Any]]:
        """Where a replay finds each array the step may read."""
        known: dict[int, tuple[Any, Any]] = {}
        for i, t in enumerate(tensors):
            if isinstance(t, Tensor):
                known[id(t.data)] = (("arg", i), t.data)
        for kind, tensors_ in (("tensor", self.params), ("tensor", self.buffers)):
            for t in tensors_:
                known.setdefault(id(t.data), ((kind, t), t.data))
        for p in self.params:
            if p.grad is not None:
                known.setdefault(id(p.grad.data), (("grad", p), p.grad.data))
        if self.optimizer is not None:
            for p, s in self.optimizer.state.items():
                for name, value in s.items():
                    if isinstance(value, Tensor):
                        known.setdefault(id(value.data), (("state", p, name), value.data))
        return known

    def _outputs(self, recorder: Recorder, result: Any) -> tuple[Any, list[str]]:
        """(the result's template with output indices, the output names); the grads of the
        parameters after the step come first, one per parameter (None for none)."""
        outputs: list[str] = []

        def index(tensor: Tensor) -> int:
            name = recorder.ref(tensor.data, "the step's result").name
            if name not in outputs:
                outputs.append(name)
            return outputs.index(name)

        grads = [None if p.grad is None else index(p.grad) for p in self.params]

        def walk(value: Any) -> Any:
            if isinstance(value, Tensor):
                return ("tensor", index(value))
            if isinstance(value, (tuple, list)):
                return (type(value), [walk(v) for v in value])
            if value is None or isinstance(value, (bool, int, float, str)):
                return ("value", value)
            raise CaptureUnsupported(f"the step returns a {type(value).__name__}; return "
                                     "Tensors (or tuples/lists of them)")

        return (grads, walk(result)), outputs

    # ------------------------------------------------------------------ optimizer
    def _optimizer_state(self) -> dict | None:
        if self.optimizer is None:
            return None
        return {p: dict(s) for p, s in self.optimizer.state.items()}

    def _restore_optimizer_state(self, saved: dict | None) -> None:
        if saved is None:
            return
        state = self.optimizer.state
        for p in [p for p in state if p not in saved]:
            del state[p]
        for p, s in saved.items():
            state[p].clear()
            state[p].update(s)

    def _created_state(self, before: dict | None) -> bool:
        """Whether the step created optimizer state (its first step: a warm-up)."""
        if before is None:
            return False
        state = self.optimizer.state
        return any(p not in before or state[p].keys() != before[p].keys() for p in state)

    def _participants(self, before: dict | None) -> list[Tensor]:
        """The parameters the optimizer stepped during the recording."""
        if before is None:
            return []
        state = self.optimizer.state
        return [p for p in self.params
                if p in state and state[p].get("step") != before.get(p, {}).get("step")]

    # ------------------------------------------------------------------ replay
    def _replay(self, entry: dict, args: tuple) -> Any:
        program: prog.Program = entry["program"]
        inputs = [self._fetch(src, args) for src in program.inputs]
        scalars: list[Any] = []
        if program.scalar_keys:
            values = self.optimizer._advance(entry["participants"])
            scalars = [values[k] for k in program.scalar_keys]
        if entry.get("proven"):
            outputs = entry["runner"](inputs, scalars)
        else:  # a compiler failing on the first replay (before any update) falls back
            try:
                outputs = entry["runner"](inputs, scalars)
            except Exception as failure:  # noqa: BLE001
                log.warning("compiling the captured step failed (%s: %s); replaying it "
                            "uncompiled", type(failure).__name__, failure)
                entry["runner"] = program.function
                outputs = program.function(inputs, scalars)
            entry["proven"] = True
        self.stats["replays"] += 1
        grads, result = entry["template"]
        backend = self.backend
        for p, j in zip(self.params, grads):
            p.grad = None if j is None else Tensor(outputs[j], backend)
        if getattr(entry["runner"], "reuses_outputs", False):
            # the next replay overwrites the outputs (a trace, a CUDA graph): the
            # caller's tensors must outlive it, gradients are consumed within the step
            returned = set(_indices(result))
            outputs = [backend.add(o, 0.0) if j in returned else o
                       for j, o in enumerate(outputs)]
        return _rebuild(result, outputs, backend)

    def _fetch(self, source: tuple, args: tuple) -> Any:
        kind = source[0]
        if kind == "arg":
            value = args[source[1]]
            return value.data if isinstance(value, Tensor) else self.backend.upload(value)
        if kind == "tensor":
            return source[1].data
        if kind == "grad":
            return source[1].grad.data
        return self.optimizer.state[source[1]][source[2]].data


def _indices(template: Any) -> list[int]:
    kind, value = template
    if kind == "tensor":
        return [value]
    if kind == "value":
        return []
    return [j for v in value for j in _indices(v)]


def _rebuild(template: Any, outputs: tuple, backend: Any) -> Any:
    kind, value = template
    if kind == "tensor":
        return Tensor(outputs[value], backend)
    if kind == "value":
        return value
    return kind(_rebuild(v, outputs, backend) for v in value)


def compile_step(fn: Callable[..., Any] | None = None, *, model: Any, optimizer: Any = None,
                 compile: bool = True, eager: Callable[..., Any] | None = None) -> Any:
    """Capture `fn` (a whole training step) once and replay it; usable as a decorator.

    `fn` takes the batch (host torch tensors are uploaded and passed on as Tensors;
    other values are part of the guard key) and returns Tensors. It must do tensor
    work only: Python side effects other than the optimizer's own bookkeeping happen
    during the recording only. Put `scheduler.step()` outside it. With `compile`, the
    backend compiles the program (torch.compile on the reference backend, a ttnn
    trace on tt); without, the recorded primitives are replayed as they are, which
    gives bit-identical results to eager. `eager(*args)` (default: `fn` given Tensors)
    runs the calls that cannot be captured.
    """
    if fn is None:
        return lambda f: CapturedStep(f, model, optimizer, compile, eager)
    return CapturedStep(fn, model, optimizer, compile, eager)


__all__ = ["CapturedStep", "compile_step"]
