"""Every error message the library can show, read from its source, for the troubleshooting page.

The catalogue is generated at build time so it cannot fall behind the code: each
`raise X("...")` (and `return XError("...")` in an error factory), each data-validation
issue (`Issue`, `RecordProblem`) and each config problem (`problems.append("...")`)
under `ttcustom/` becomes a row. Formatted values show
as the expression that fills them (`{input.shape}`). Fixes come from `errors.yml`
beside this file, matched by a literal fragment of the message (the longest match wins,
so a specific entry overrides a general one).
"""

from __future__ import annotations

import ast
import html
from dataclasses import dataclass
from pathlib import Path

import yaml

MARKER = "<!-- error-catalogue -->"
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
FIXES_FILE = HERE / "errors.yml"
# Constructors whose arguments are (optional line,) kind code, message.
ISSUE_CALLS = ("Issue", "RecordProblem")


@dataclass(frozen=True)
class Message:
    """One message template and where it comes from."""

    module: str  # dotted module name, e.g. ttcustom.functional
    line: int
    kind: str  # exception class, or "issue: <code>" for data-validation issues
    text: str  # the message with each formatted value shown as {expression}


def _template(node: ast.expr, constants: dict[str, str]) -> str | None:
    """The message a string-building expression produces, or None if it is not one.

    A module-level string constant, or a call of a module function that returns a
    message, shows as its text.
    """
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
            and node.func.id + "()" in constants:
        return constants[node.func.id + "()"]
    if isinstance(node, ast.JoinedStr):
        return "".join(_piece(value, constants) for value in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _template(node.left, constants), _template(node.right, constants)
        if left is None and right is None:
            return None
        return (left or _piece(node.left, constants)) + (right or _piece(node.right, constants))
    return None


def _piece(node: ast.expr, constants: dict[str, str]) -> str:
    if isinstance(node, ast.Constant):
        return str(node.value)
    value = node.value if isinstance(node, ast.FormattedValue) else node
    if isinstance(value, ast.Name) and value.id in constants:
        return constants[value.id]
    return "{" + ast.unparse(value) + "}"


def _module_constants(tree: ast.Module) -> dict[str, str]:
    """NAME -> text for module-level `NAME = "..."`, and "name()" -> text for module
    functions that end in `return <message>`."""
    constants: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 \
                and isinstance(node.targets[0], ast.Name):
            text = _template(node.value, constants)
            if text is not None:
                constants[node.targets[0].id] = text
        elif isinstance(node, ast.FunctionDef) and isinstance(node.body[-1], ast.Return) \
                and node.body[-1].value is not None:
            text = _template(node.body[-1].value, constants)
            if text is not None:
                constants[node.name + "()"] = text
    return constants


def _call_name(call: ast.Call) -> str:
    func = call.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ast.unparse(func)


def _raised(exc: ast.expr | None, constants: dict[str, str]) -> list[tuple[str, str]]:
    """(exception class, message) pairs for `X(message)` / `X([messages])`.

    A lower-case callee is an error factory (`raise collective_failed(...)`); its own
    `return XError(...)` is collected instead.
    """
    if not isinstance(exc, ast.Call) or not exc.args or not _call_name(exc)[:1].isupper():
        return []
    first = exc.args[0]
    elements = first.elts if isinstance(first, ast.List) else [first]
    texts = [_template(e, constants) for e in elements]
    return [(_call_name(exc), text) for text in texts if text]


def _issue(call: ast.Call, constants: dict[str, str]) -> list[tuple[str, str]]:
    """("issue: code", message) for Issue(line, code, message) / RecordProblem(code, message)."""
    strings = [a for a in call.args if _template(a, constants) is not None]
    if len(strings) < 2 or not isinstance(strings[0], ast.Constant):
        return []
    return [(f"issue: {strings[0].value}", _template(strings[1], constants))]


def _config_problem(call: ast.Call, constants: dict[str, str]) -> list[tuple[str, str]]:
    """("ConfigError", message) for problems.append(message)."""
    func = call.func
    is_append = (isinstance(func, ast.Attribute) and func.attr == "append"
                 and isinstance(func.value, ast.Name) and func.value.id == "problems")
    text = _template(call.args[0], constants) if is_append and call.args else None
    return [("ConfigError", text)] if text else []


def messages_in(source: str, module: str) -> list[Message]:
    """Every message template in one module's source, in line order."""
    tree = ast.parse(source)
    constants = _module_constants(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise):
            pairs = _raised(node.exc, constants)
        elif isinstance(node, ast.Return) and isinstance(node.value, ast.Call) \
                and _call_name(node.value).endswith("Error"):
            pairs = _raised(node.value, constants)
        elif isinstance(node, ast.Call) and _call_name(node) in ISSUE_CALLS:
            pairs = _issue(node, constants)
        elif isinstance(node, ast.Call):
            pairs = _config_problem(node, constants)
        else:
            continue
        found += [Message(module, node.lineno, kind, text) for kind, text in pairs]
    return sorted(found, key=lambda m: m.line)


def collect(root: Path = ROOT) -> list[Message]:
    """Every message under `root`/ttcustom, grouped by module."""
    found = []
    for path in sorted((root / "ttcustom").rglob("*.py")):
        module = ".".join(path.relative_to(root).with_suffix("").parts).removesuffix(".__init__")
        found += messages_in(path.read_text(encoding="utf-8"), module)
    return found


def load_fixes(path: Path = FIXES_FILE) -> list[dict[str, str]]:
    """[{match: literal fragment of a message, fix: what to do}] in file order."""
    return yaml.safe_load(path.read_text(encoding="utf-8"))["fixes"]


def fix_for(message: Message, fixes: list[dict[str, str]]) -> str | None:
    """The fix of the longest `match` fragment found in the message, if any."""
    found = [entry for entry in fixes if entry["match"] in message.text]
    return max(found, key=lambda entry: len(entry["match"]))["fix"] if found else None


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


#: characters Markdown would interpret inside raw HTML (emphasis, code, links, tables,
#: attribute lists, escapes), written as entities so a message shows as the code has it
_MARKDOWN_ENTITIES = str.maketrans({c: f"&#{ord(c)};" for c in "`_*[]{}|\\"})


def _code_cell(text: str) -> str:
    """The message as inline HTML code, every character literal."""
    return "<code>" + html.escape(text.replace("\n", " ")).translate(_MARKDOWN_ENTITIES) + "</code>"


def render(messages: list[Message], fixes: list[dict[str, str]]) -> str:
    """Markdown: one table per module, rows of kind, message and fix."""
    out: list[str] = []
    module = None
    for message in messages:
        if message.module != module:
            module = message.module
            out += ["", f"### `{module}`", "", "| raised as | message | fix |", "| --- | --- | --- |"]
        fix = fix_for(message, fixes) or "The message names the fix."
        out.append(f"| `{message.kind}` | {_code_cell(message.text)} | {_cell(fix)} |")
    return "\n".join(out) + "\n"


def on_page_markdown(markdown: str, page, config, files) -> str:  # noqa: ANN001 (mkdocs hook)
    """mkdocs hook: fill the marker on the troubleshooting page."""
    if MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, render(collect(), load_fixes()))
