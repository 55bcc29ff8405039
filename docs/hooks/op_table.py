"""The op and primitive tables of docs/reference/ops.md, read from the code at build time.

For each public function of `ttcustom.functional`: the autograd `Function`(s) it applies
(or the functional ops it is composed of) and the backend primitives their forward and
backward call; for each primitive of the `Backend` protocol: the Functions that call it
and where each backend implements it (a tt method that delegates to a composite names
it too). Read with `inspect` and `ast`, so the page cannot disagree with the source.
"""

from __future__ import annotations

import ast
import inspect
import sys
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

OP_MARKER = "<!-- op-table -->"
PRIMITIVE_MARKER = "<!-- primitive-table -->"
ROOT = Path(__file__).resolve().parent.parent.parent
BACKENDS_DIR = ROOT / "ttcustom" / "backends"


@dataclass(frozen=True)
class Op:
    """One public function of `ttcustom.functional` and what it runs."""

    name: str
    functions: tuple[type, ...]  # the autograd Functions it applies
    composed_of: tuple[str, ...]  # the functional ops it calls instead
    forward: tuple[str, ...]  # primitives of the Functions' forward
    backward: tuple[str, ...]  # and of their backward


def _tree(func: Callable) -> ast.AST:
    return ast.parse(textwrap.dedent(inspect.getsource(inspect.unwrap(func))))


def _calls(func: Callable) -> Iterator[ast.Call]:
    """The calls in `func`'s body, in source order."""
    nodes = [n for n in ast.walk(_tree(func)) if isinstance(n, ast.Call)]
    yield from sorted(nodes, key=lambda n: (n.lineno, n.col_offset))


def _resolve(node: ast.expr, namespace: dict[str, Any]) -> Any:
    """The object a dotted name (`norm_ops.RMSNorm`) stands for in `namespace`, or None."""
    if isinstance(node, ast.Name):
        return namespace.get(node.id)
    if isinstance(node, ast.Attribute):
        return getattr(_resolve(node.value, namespace), node.attr, None)
    return None


def _unique(names: Iterator[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(names))


# ----------------------------------------------------------------- Functions -> primitives
def primitives_of(cls: type, method: str) -> tuple[str, ...]:
    """The Backend primitives `cls.<method>` (forward or backward) calls, in call order:
    `ctx.backend.X(...)`, `b.X(...)` after `b = ctx.backend`, and
    `getattr(ctx.backend, <expr of cls>)` (the name evaluated for `cls`)."""
    from ttcustom.backends.base import Backend

    func = getattr(cls, method)
    tree = _tree(func)
    aliases = {target.id for node in ast.walk(tree) if isinstance(node, ast.Assign)
               and _is_ctx_backend(node.value, set()) for target in node.targets
               if isinstance(target, ast.Name)}
    found = []
    for call in _calls(func):
        target = call.func
        if isinstance(target, ast.Attribute) and _is_ctx_backend(target.value, aliases):
            found.append(target.attr)
        elif (isinstance(target, ast.Name) and target.id == "getattr"
              and _is_ctx_backend(call.args[0], aliases)):
            expression = ast.Expression(call.args[1])
            found.append(eval(compile(expression, "<op_table>", "eval"), {"cls": cls}))
    return _unique(n for n in found if n in Backend.primitives())


def _is_ctx_backend(node: ast.expr, aliases: set[str]) -> bool:
    return ((isinstance(node, ast.Attribute) and node.attr == "backend"
             and isinstance(node.value, ast.Name) and node.value.id == "ctx")
            or (isinstance(node, ast.Name) and node.id in aliases))


# ----------------------------------------------------------------- functional -> Functions
def ops() -> list[Op]:
    """Every public function of `ttcustom.functional`, in source order."""
    import ttcustom.functional as F
    from ttcustom.autograd.function import Function

    public = {name: value for name, value in vars(F).items()
              if inspect.isfunction(value) and value.__module__ == F.__name__
              and not name.startswith("_")}
    rows = []
    for name, func in sorted(public.items(), key=lambda kv: inspect.getsourcelines(kv[1])[1]):
        functions, composed = [], []
        for call in _calls(func):
            target = call.func
            if isinstance(target, ast.Attribute) and target.attr == "apply":
                cls = _resolve(target.value, vars(F))
                if isinstance(cls, type) and issubclass(cls, Function):
                    functions.append(cls)
            elif isinstance(target, ast.Name) and target.id in public and target.id != name:
                composed.append(target.id)
        functions = _unique(iter(functions))
        rows.append(Op(name, functions, () if functions else _unique(iter(composed)),
                       _unique(p for c in functions for p in primitives_of(c, "forward")),
                       _unique(p for c in functions for p in primitives_of(c, "backward"))))
    return rows


# ----------------------------------------------------------------- primitives -> backends
def backends() -> dict[str, type]:
    """The backends whose implementations the table lists, by column title."""
    from ttcustom.backends.reference import ReferenceBackend
    from ttcustom.backends.tt.backend import TTBackend

    return {"reference (cpu, cuda)": ReferenceBackend, "tt": TTBackend}


def primitives() -> list[str]:
    """The protocol's primitives in the order `backends/base.py` declares them."""
    from ttcustom.backends.base import Backend

    return [name for name in vars(Backend) if name in Backend.primitives()]


def _where(obj: Any) -> str:
    return Path(inspect.getsourcefile(obj)).resolve().relative_to(BACKENDS_DIR).as_posix()


def implementation(backend: type, primitive: str) -> list[str]:
    """`file:Class.method` implementing `primitive` in `backend`, then `file:function` of
    each function of another ttcustom module it calls (the tt composites)."""
    owner = next(k for k in backend.__mro__ if primitive in vars(k))
    method = inspect.unwrap(getattr(owner, primitive))
    found = [f"{_where(owner)}:{owner.__name__}.{primitive}"]
    for call in _calls(method):
        helper = _resolve(call.func, method.__globals__)
        if (inspect.isfunction(helper) and helper.__module__.startswith("ttcustom.")
                and helper.__module__ != method.__module__):
            found.append(f"{_where(helper)}:{helper.__name__}")
    return list(_unique(iter(found)))


# ----------------------------------------------------------------- markdown
def _code(names: tuple[str, ...] | list[str], sep: str = ", ") -> str:
    return sep.join(f"`{n}`" for n in names) or "–"


def _function_name(cls: type) -> str:
    return f"{cls.__module__.removeprefix('ttcustom.ops.')}.{cls.__name__}"


def op_table(rows: list[Op] | None = None) -> str:
    rows = ops() if rows is None else rows
    lines = ["| op (`ttcustom.functional`) | Function (`ttcustom/ops/`) | forward primitives "
             "| backward primitives |", "| --- | --- | --- | --- |"]
    for op in rows:
        if op.functions:
            functions = _code([_function_name(c) for c in op.functions])
        else:
            functions = "composed of " + _code(op.composed_of)
        lines.append(f"| `{op.name}` | {functions} | {_code(op.forward)} | "
                     f"{_code(op.backward)} |")
    return "\n".join(lines) + "\n"


def primitive_table(rows: list[Op] | None = None) -> str:
    rows = ops() if rows is None else rows
    columns = backends()
    users: dict[str, list[str]] = {}
    for op in rows:
        for cls in op.functions:
            for name in (*primitives_of(cls, "forward"), *primitives_of(cls, "backward")):
                users.setdefault(name, []).append(_function_name(cls))
    lines = ["| primitive | used by | " + " | ".join(columns) + " |",
             "| --- | --- |" + " --- |" * len(columns)]
    for name in primitives():
        cells = [_code(implementation(backend, name), "<br>") for backend in columns.values()]
        lines.append(f"| `{name}` | {_code(list(_unique(iter(users.get(name, [])))))} | "
                     + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def on_page_markdown(markdown: str, page, config, files) -> str:  # noqa: ANN001 (mkdocs hook)
    """mkdocs hook: fill the markers of the ops reference."""
    if OP_MARKER not in markdown and PRIMITIVE_MARKER not in markdown:
        return markdown
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    rows = ops()
    return (markdown.replace(OP_MARKER, op_table(rows))
            .replace(PRIMITIVE_MARKER, primitive_table(rows)))
