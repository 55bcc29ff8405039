"""`Reducer`: averages gradients over replicas bucket by bucket, while backward runs.

One round per synchronised iteration: `DistributedDataParallel.forward` arms it, each
parameter's post-accumulate-grad hook marks the parameter ready, and a bucket whose
parameters are all ready starts its all-reduce. Buckets start strictly in bucket order,
so every replica issues the same sequence of collectives even when its backward
finishes them in another order. When the last bucket has started, the round waits for
all of them and writes the averaged gradients back into `.grad`.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ttcustom.autograd.tensor import Tensor
from ttcustom.distributed.comm import Communicator, Pending
from ttcustom.distributed.flat import group_by_size
from ttcustom.nn.module import Parameter

# Round states: gradients stay local / a synchronised backward is expected / it is done.
IDLE, ARMED, REDUCED = "idle", "armed", "reduced"
#: armed reducers, kept alive until their backward is done even if the DDP wrapper that
#: owns one is dropped right after its forward (parameter hooks only hold weak references)
_ARMED: set[Reducer] = set()


@dataclass(eq=False)
class Bucket:
    """Parameters whose gradients are reduced by one collective."""

    names: list[str]
    params: list[Parameter]
    pending: int = 0
    result: Pending | None = field(default=None, repr=False)


class Reducer:
    """Gradient averaging for `named_params` (all requiring grad) over `comm`."""

    def __init__(
        self, named_params: Sequence[tuple[str, Parameter]], comm: Communicator, cap_bytes: int
    ) -> None:
        self.comm = comm
        # Reverse registration order approximates the order backward produces gradients.
        ordered = list(reversed(named_params))
        self.buckets = [
            Bucket([ordered[i][0] for i in group], [ordered[i][1] for i in group])
            for group in group_by_size([p for _, p in ordered], cap_bytes)
        ]
        self._bucket_of = {id(p): b for b in self.buckets for p in b.params}
        self._name_of = {id(p): name for name, p in named_params}
        self._ready: set[int] = set()
        self._unused: list[Parameter] = []
        self._state = IDLE
        self._next_launch = 0
        hook = _ReadyHook(weakref.ref(self))
        for _, param in named_params:
            param.register_post_accumulate_grad_hook(hook)

    @property
    def params(self) -> list[Parameter]:
        """Every parameter this reducer averages, in bucket order."""
        return [p for bucket in self.buckets for p in bucket.params]

    def prepare(self, unused: Iterable[Parameter] = ()) -> None:
        """Arm a round; `unused` parameters get no gradient this iteration on this replica."""
        self.check_finished()
        self._set_state(ARMED)
        self._ready.clear()
        self._unused = list(unused)
        self._next_launch = 0
        for bucket in self.buckets:
            bucket.pending = len(bucket.params)
            bucket.result = None

    def disarm(self) -> None:
        """The next backward keeps its gradients local (no_sync, or a forward without grad)."""
        self.check_finished()
        self._set_state(IDLE)

    def check_finished(self) -> None:
        """Raise if the previous round began reducing but some gradients never arrived."""
        if not (self._state == ARMED and self._ready):
            return
        missing = [name for key, name in self._name_of.items() if key not in self._ready]
        self._set_state(IDLE)
        raise RuntimeError(
            "DistributedDataParallel: the previous iteration's gradient reduction did not "
            f"finish; these parameters got no gradient: {', '.join(missing)}. Make every "
            "parameter that requires grad take part in the loss, freeze the others "
            "(requires_grad_(False)) before wrapping, or pass find_unused_parameters=True."
        )

    def mark_ready(self, param: Parameter) -> None:
        """A gradient was accumulated into `param.grad` (called from its hook)."""
        if self._state == IDLE:
            return
        if self._state == REDUCED:
            self._twice(param)
        if not self._ready and self._unused:
            unused, self._unused = self._unused, []
            for other in unused:
                self._mark(other)
        self._mark(param)

    def _mark(self, param: Parameter) -> None:
        key = id(param)
        if key in self._ready:
            self._twice(param)
        self._ready.add(key)
        self._bucket_of[key].pending -= 1
        while self._next_launch < len(self.buckets) and self.buckets[self._next_launch].pending == 0:
            self._launch(self.buckets[self._next_launch])
            self._next_launch += 1
        if self._next_launch == len(self.buckets):
            self._finish()

    def _set_state(self, state: str) -> None:
        self._state = state
        if state == ARMED:
            _ARMED.add(self)
        else:
            _ARMED.discard(self)

    def _twice(self, param: Parameter) -> None:
        self._set_state(IDLE)
        raise RuntimeError(
            f"DistributedDataParallel: parameter {self._name_of[id(param)]!r} received a "
            "gradient twice in one iteration (backward called twice after one forward?); "
            "its replicas would drift apart. Run one forward per backward and accumulate "
            "micro-batches under no_sync()."
        )

    def _launch(self, bucket: Bucket) -> None:
        backend = bucket.params[0].backend
        grads = [p.grad.data if p.grad is not None else backend.full(p.shape, 0.0, p.dtype)
                 for p in bucket.params]
        bucket.result = self.comm.all_reduce_mean(backend, grads)

    def _finish(self) -> None:
        self._set_state(REDUCED)
        for bucket in self.buckets:
            backend = bucket.params[0].backend
            for param, grad in zip(bucket.params, bucket.result.wait()):
                param.grad = Tensor(grad, backend)
            bucket.result = None
        self._ready.clear()


class _ReadyHook:
    """A parameter hook that forwards to its reducer while the reducer is alive."""

    def __init__(self, reducer: weakref.ref[Reducer]) -> None:
        self.reducer = reducer

    def __call__(self, param: Tensor) -> None:
        reducer = self.reducer()
        if reducer is not None:
            reducer.mark_ready(param)
