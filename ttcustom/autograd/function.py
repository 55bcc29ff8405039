"""`Function` (a graph node: forward + backward over backend primitives) and the engine.

The graph holds nodes, never output tensors: a node keeps its parents' nodes and the
arrays it saved for backward, so an activation nobody saved is freed as soon as the
user drops it (as in torch). Saved arrays are released once the node has run.
"""

from __future__ import annotations

import contextlib
import weakref
from typing import TYPE_CHECKING, Any

from ttcustom.backends.base import Array, Backend

if TYPE_CHECKING:
    from ttcustom.autograd.tensor import Tensor

_grad_enabled = True


def is_grad_enabled() -> bool:
    return _grad_enabled


class _GradMode(contextlib.ContextDecorator):
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __enter__(self) -> None:
        global _grad_enabled
        self.previous, _grad_enabled = _grad_enabled, self.enabled

    def __exit__(self, *exc: object) -> None:
        global _grad_enabled
        _grad_enabled = self.previous


def no_grad() -> _GradMode:
    """Context manager / decorator: ops inside record no history (like torch.no_grad)."""
    return _GradMode(False)


def enable_grad() -> _GradMode:
    return _GradMode(True)


class Function:
    """An op: subclass with `forward(ctx, *args)` and `backward(ctx, grad)` staticmethods.

    `forward` receives backend arrays in place of Tensors and returns one array;
    `backward` returns one gradient (or None) per positional argument of `forward`.
    The instance is the context (`ctx`) and the graph node at once.

    A Function naming argument positions in `accumulates` takes `backward(ctx, grad,
    into)`: `into` holds, per argument, the gradient other consumers of that input have
    already produced (None at other positions, or when there is none), and each gradient
    returned where `into` is given must include it. Fused kernels then add it (`addmm`,
    `addcmul`) instead of the engine's separate add: one dispatch fewer per shared input
    on tt (a layer's normed input feeds q, k and v).
    """

    accumulates: tuple[int, ...] = ()

    backend: Backend
    needs_input_grad: tuple[bool, ...]
    parents: tuple[Any, ...]
    saved: tuple[Array, ...] | None

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.saved = ()

    def save_for_backward(self, *arrays: Array) -> None:
        self.saved = arrays

    @staticmethod
    def forward(ctx: Function, *args: Any, **kwargs: Any) -> Array:
        raise NotImplementedError

    @staticmethod
    def backward(ctx: Function, grad: Array) -> Any:
        raise NotImplementedError

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Tensor:
        backend = None
        raw = []
        needs = []
        for arg in args:
            if isinstance(arg, Tensor):
                if backend is None:
                    backend = arg.backend
                elif arg.backend is not backend:
                    raise RuntimeError(
                        f"{cls.__name__}: tensors live on different backends "
                        f"({backend.name} and {arg.backend.name}); move them with .to()"
                    )
                raw.append(arg.data)
                needs.append(arg.requires_grad)
            else:
                raw.append(arg)
                needs.append(False)
        ctx = cls(backend)
        record = _grad_enabled and any(needs)
        ctx.needs_input_grad = tuple(needs)
        out = cls.forward(ctx, *raw, **kwargs)
        result = Tensor(out, backend)
        if record:
            ctx.parents = tuple(
                _node_of(a) if n else None for a, n in zip(args, needs)
            )
            result.requires_grad = True
            result.grad_fn = ctx
        return result

    def __repr__(self) -> str:
        return f"<{type(self).__name__}Backward>"


class AccumulateGrad:
    """The node of a leaf tensor: adds incoming gradient into `leaf.grad`."""

    parents: tuple = ()

    def __init__(self, leaf: Tensor) -> None:
        self.leaf = leaf

    def accumulate(self, grad: Array, seen: set[int]) -> None:
        leaf = self.leaf
        backend = leaf.backend
        if backend.shape(grad) != leaf.shape:
            raise RuntimeError(
                f"internal error: gradient of shape {backend.shape(grad)} for a "
                f"parameter of shape {leaf.shape}"
            )
        if backend.dtype(grad) != leaf.dtype:
            grad = backend.cast(grad, leaf.dtype)
        if leaf.grad is None:
            # An array may reach two leaves (x + y); give each its own so in-place
            # updates of one .grad (clipping, all-reduce) cannot touch the other.
            storage = backend.storage_id(grad)
            if storage in seen:
                grad = backend.add(grad, 0.0)
                storage = backend.storage_id(grad)
            seen.add(storage)
            leaf.grad = Tensor(grad, backend)
        else:
            leaf.grad = Tensor(backend.add(leaf.grad.data, grad), backend)
        for hook in leaf._post_accumulate_grad_hooks:
            hook(leaf)


def _node_of(tensor: Tensor) -> Function | AccumulateGrad:
    if tensor.grad_fn is not None:
        return tensor.grad_fn
    node = tensor._accumulator() if tensor._accumulator is not None else None
    if node is None:
        node = AccumulateGrad(tensor)
        # Weak, as in torch: the graph holds the node and the node the leaf; a strong
        # link back would be a cycle keeping a dropped leaf and its .grad alive until
        # Python's garbage collector runs (e.g. each checkpointed block's input).
        tensor._accumulator = weakref.ref(node)
    return node


def _topological_order(root: Any) -> list[Any]:
    """Nodes reachable from `root`, every consumer before the nodes it depends on."""
    order: list[Any] = []
    visited: set[int] = set()
    stack = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        stack.extend((p, False) for p in node.parents if p is not None and id(p) not in visited)
    order.reverse()
    return order


def _pending_inputs(node: Function, pending: dict[int, Array]) -> tuple[Array | None, ...]:
    """Per input of `node`, the gradient pending for it where `node.accumulates` names
    the position (offered once per distinct input), else None."""
    offered: set[int] = set()
    into = []
    for position, parent in enumerate(node.parents):
        key = id(parent) if parent is not None else None
        take = key is not None and key not in offered and position in node.accumulates
        into.append(pending.get(key) if take else None)
        if take:
            offered.add(key)
    return tuple(into)


def run_backward(root: Tensor, grad: Array, retain_graph: bool = False) -> None:
    """Propagate `grad` from `root` to every leaf that requires grad."""
    backend = root.backend
    pending: dict[int, Array] = {}
    start = _node_of(root)
    pending[id(start)] = grad
    seen: set[int] = set()
    for node in _topological_order(start):
        node_grad = pending.pop(id(node), None)
        if node_grad is None:
            continue
        if isinstance(node, AccumulateGrad):
            node.accumulate(node_grad, seen)
            continue
        if node.saved is None:
            raise RuntimeError(
                f"{node!r}: trying to backward through the graph a second time; "
                "its saved arrays were freed. Pass retain_graph=True to the first backward()."
            )
        if node.accumulates:
            into = _pending_inputs(node, pending)
            input_grads = type(node).backward(node, node_grad, into)
        else:
            into = (None,) * len(node.parents)
            input_grads = type(node).backward(node, node_grad)
        if not isinstance(input_grads, tuple):
            input_grads = (input_grads,)
        for parent, input_grad, included in zip(node.parents, input_grads, into):
            if parent is None or input_grad is None:
                continue
            key = id(parent)
            previous = None if included is not None else pending.get(key)
            pending[key] = input_grad if previous is None else backend.add(previous, input_grad)
        if not retain_graph:
            node.saved = None


from ttcustom.autograd.tensor import Tensor  # noqa: E402  (Tensor uses Function)
