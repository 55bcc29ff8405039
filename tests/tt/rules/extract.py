"""Extract the validate rules of ttnn's device operations from the wheel's bundled sources.

ttnn ships the C++ of many operations under site-packages/ttnn/ttnn/cpp/ttnn/operations/.
For each op the tt backend calls (`OP_SOURCES`) this reads the op's own files (the op-level
`*.cpp`, its `device/*_device_operation.cpp`, shared helpers; not kernels, bindings or program
factories) and the moreh helper functions, and lists every check: `TT_FATAL(cond, msg, ...)`,
`TT_ASSERT`, `TT_THROW(msg)` (its condition is the enclosing `if`), and calls of the checking
helpers of `HELPERS` (`check_tensor(...)`, `validate_input_with_dim(...)`). Each rule keeps its
condition, message, file, line, enclosing function and `if` guards.

    python -m tests.tt.rules.extract           # rewrite tests/tt/rules/extracted.json
    python -m tests.tt.rules.extract --check   # exit 1 if the committed table differs

C++ cannot be executed here: tests/tt/rules/mapping.py pairs each rule, by `key`, with a
Python predicate, so a ttnn upgrade that changes or adds a rule appears as unmapped.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import sys
from pathlib import Path

TABLE = Path(__file__).with_name("extracted.json")

#: ttnn op (as the backend calls it) -> its source folders under operations/
OP_SOURCES: dict[str, tuple[str, ...]] = {
    "all_reduce": ("ccl/all_reduce",),
    "concat": ("data_movement/concat",),
    "copy": ("data_movement/copy",),
    "expand": ("data_movement/expand", "data_movement/repeat"),
    "fill_implicit_tile_padding": ("data_movement/fill_pad",),
    "moreh_adamw": ("moreh/moreh_adamw",),
    "moreh_layer_norm": ("moreh/moreh_layer_norm",),
    "moreh_layer_norm_backward": ("moreh/moreh_layer_norm_backward",),
    "moreh_logsoftmax": ("moreh/moreh_softmax",),
    "moreh_logsoftmax_backward": ("moreh/moreh_softmax_backward",),
    "moreh_nll_loss": ("moreh/moreh_nll_loss",),
    "moreh_nll_loss_backward": ("moreh/moreh_nll_loss_backward",),
    "moreh_norm": ("moreh/moreh_norm",),
    "moreh_sgd": ("moreh/moreh_sgd",),
    "moreh_softmax_backward": ("moreh/moreh_softmax_backward",),
    "moreh_sum": ("moreh/moreh_sum",),
    "pad": ("data_movement/pad",),
    "permute": ("data_movement/permute",),
    "repeat_interleave": ("data_movement/repeat_interleave",),
    "reshape": ("data_movement/reshape_view",),
    "transpose": ("data_movement/transpose",),
    "slice": ("data_movement/slice",),
}
#: files whose checking functions are called from the ops' validate code
HELPER_FILES = ("moreh/moreh_helper_functions.cpp",)
#: helper functions whose call is itself a rule (their bodies are extracted as "moreh_helpers")
HELPERS = ("check_tensor", "validate_input_with_dim", "validate_output_with_keepdim")
HELPER_OP = "moreh_helpers"
MACROS = ("TT_FATAL", "TT_ASSERT", "TT_THROW")
_SKIP = re.compile(r"(/kernels/|/codegen/|nanobind|program_factory|_types\.hpp$)")
_CALL = re.compile(r"\b(" + "|".join(MACROS + HELPERS) + r")\s*\(")


def operations_root() -> Path:
    """operations/ of the installed ttnn wheel (found without importing ttnn)."""
    spec = importlib.util.find_spec("ttnn")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError("ttnn is not installed in this environment")
    return Path(spec.origin).parent / "ttnn" / "cpp" / "ttnn" / "operations"


def _blank_comments(text: str) -> str:
    """Comments -> spaces (line breaks kept, so offsets and line numbers stay)."""
    out, i, n = [], 0, len(text)
    while i < n:
        if text.startswith("//", i):
            end = text.find("\n", i)
            end = n if end < 0 else end
            out.append(" " * (end - i))
            i = end
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = n if end < 0 else end + 2
            out.append(re.sub(r"[^\n]", " ", text[i:end]))
            i = end
        elif text[i] in "\"'":
            end = _string_end(text, i)
            out.append(text[i:end])
            i = end
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _string_end(text: str, start: int) -> int:
    quote, i = text[start], start + 1
    while i < len(text) and text[i] != quote:
        i += 2 if text[i] == "\\" else 1
    return i + 1


def _close_paren(text: str, open_at: int) -> int:
    """Index of the `)` matching text[open_at] == '('."""
    depth, i = 0, open_at
    while i < len(text):
        char = text[i]
        if char in "\"'":
            i = _string_end(text, i)
            continue
        depth += char in "([{"
        depth -= char in ")]}"
        if depth == 0:
            return i
        i += 1
    raise ValueError(f"unbalanced parenthesis at offset {open_at}")


def _split_args(text: str) -> list[str]:
    parts, depth, start, i = [], 0, 0, 0
    while i < len(text):
        char = text[i]
        if char in "\"'":
            i = _string_end(text, i)
            continue
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
        i += 1
    parts.append(text[start:])
    return [normalize(p) for p in parts if p.strip()]


def normalize(text: str) -> str:
    """Whitespace-collapsed source text: the form rules are keyed by."""
    return re.sub(r"\s+", " ", text).strip()


def _message(argument: str) -> str:
    """The text of a (possibly concatenated) string literal argument."""
    pieces = re.findall(r'"((?:[^"\\]|\\.)*)"', argument)
    return "".join(pieces) if pieces else argument


def _blocks(text: str) -> list[tuple[int, int, str]]:
    """Every `{...}` block: (start, end, header text before the brace)."""
    found, stack, i = [], [], 0
    boundary = 0
    while i < len(text):
        char = text[i]
        if char in "\"'":
            i = _string_end(text, i)
            continue
        if char == "{":
            stack.append((i, normalize(text[boundary:i])))
            boundary = i + 1
        elif char == "}":
            if stack:
                start, header = stack.pop()
                found.append((start, i, header))
            boundary = i + 1
        elif char == ";":
            boundary = i + 1
        i += 1
    return found


def _guards_and_function(blocks: list[tuple[int, int, str]], at: int) -> tuple[list[str], str]:
    guards, function = [], ""
    for start, end, header in sorted(blocks):
        if not start < at < end:
            continue
        branch = re.match(r"(?:\}\s*)?(else\s+)?if\s*(?:constexpr\s*)?\((.*)\)$", header)
        if branch:
            guards.append(("else if " if branch.group(1) else "if ") + normalize(branch.group(2)))
        elif header.startswith("else"):
            guards.append("else")
        else:
            named = re.search(r"([\w:~]+)\s*\([^()]*(?:\([^()]*\)[^()]*)*\)\s*(?:const\s*)?"
                              r"(?:->\s*[\w:<>]+\s*)?$", header)
            if named and not re.match(r"(for|while|switch)\b", header):
                function = named.group(1)
    return guards, function


def extract_file(path: Path, root: Path, op: str) -> list[dict]:
    """The rules written in one source file."""
    text = _blank_comments(path.read_text())
    blocks = _blocks(text)
    rules = []
    for match in _CALL.finditer(text):
        kind = match.group(1)
        header = text[max(0, match.start() - 30):match.start()]
        if kind in HELPERS and re.search(r"(void|bool|inline)\s+$", header):
            continue  # the helper's own definition
        close = _close_paren(text, match.end() - 1)
        args = _split_args(text[match.end():close])
        guards, function = _guards_and_function(blocks, match.start())
        if kind in HELPERS:
            condition, message = f"{kind}({', '.join(args)})", ""
        elif kind == "TT_THROW":
            condition, message = "", _message(args[0]) if args else ""
        else:
            condition, message = args[0], _message(args[1]) if len(args) > 1 else ""
        rules.append({
            "op": op,
            "kind": kind,
            "condition": condition,
            "message": message,
            "key": key_of(kind, condition, message),
            "file": path.relative_to(root).as_posix(),
            "line": text.count("\n", 0, match.start()) + 1,
            "function": function,
            "guards": guards,
        })
    return rules


def key_of(kind: str, condition: str, message: str) -> str:
    """The mapping key of a rule: its normalized condition (with the message where the
    condition alone says nothing: a TT_THROW, or a TT_FATAL(false, ...))."""
    if kind == "TT_THROW" or condition == "false":
        return f"{condition or 'throw'}: {normalize(message)}"
    return normalize(condition)


def _sources(root: Path, folder: str) -> list[Path]:
    return sorted(p for p in (root / folder).rglob("*")
                  if p.suffix in (".cpp", ".hpp") and not _SKIP.search(p.as_posix()))


def extract(root: Path | None = None) -> list[dict]:
    """All rules of the ops of OP_SOURCES and of the helper files, in a stable order."""
    root = root or operations_root()
    rules = []
    for op, folders in sorted(OP_SOURCES.items()):
        for folder in folders:
            for path in _sources(root, folder):
                rules.extend(extract_file(path, root, op))
    for helper in HELPER_FILES:
        rules.extend(extract_file(root / helper, root, HELPER_OP))
    return rules


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="compare with the committed table instead of writing it")
    options = parser.parse_args(argv)
    table = json.dumps(extract(), indent=1) + "\n"
    if options.check:
        same = TABLE.exists() and TABLE.read_text() == table
        print("extracted rules match" if same else f"{TABLE} is stale: re-run the extractor")
        return 0 if same else 1
    TABLE.write_text(table)
    print(f"wrote {TABLE} ({len(json.loads(table))} rules)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
