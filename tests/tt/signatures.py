"""The call signatures of ttnn operations, read from the installed wheel.

ttnn's C++ operations are nanobind objects without Python signatures; nanobind writes
each overload as a `__call__(self, a: T, *, b: T = ...) -> R` line of the docstring.
Parsing those lines gives `inspect.Signature`s that calls can be bound against, so a
keyword the real operation does not take fails here, without a card.
"""

from __future__ import annotations

import inspect
import re
from typing import Any

P = inspect.Parameter
_OPEN, _CLOSE = "([{<", ")]}>"


def _split_top_level(text: str) -> list[str]:
    """Split on commas that are not inside brackets (types like dict[str, int])."""
    parts, depth, current = [], 0, []
    for index, char in enumerate(text):
        if char in _OPEN and not (char == "<" and text[index - 1:index] == " "):
            depth += 1
        elif char in _CLOSE and not (char == ">" and text[index - 1:index] == "-"):
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    if "".join(current).strip():
        parts.append("".join(current))
    return parts


def _has_default(token: str) -> bool:
    depth = 0
    for char in token:
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == "=" and depth == 0:
            return True
    return False


def _parameters_text(line: str) -> str | None:
    """The text between the outer parentheses of `name(...) -> R`, or None."""
    match = re.match(r"\s*[\w.]+\(", line)
    if not match:
        return None
    depth, start = 0, match.end() - 1
    for index in range(start, len(line)):
        depth += line[index] == "("
        depth -= line[index] == ")"
        if depth == 0:
            return line[start + 1:index]
    return None


def parse_signature(text: str) -> inspect.Signature:
    """One nanobind parameter list -> an inspect.Signature (defaults become None)."""
    params: list[P] = []
    kind = P.POSITIONAL_OR_KEYWORD
    for raw in _split_top_level(text):
        token = raw.strip().replace("\\", "")  # some docstrings escape the `*` (rst)
        if token in ("self", ""):
            continue
        if token == "*":
            kind = P.KEYWORD_ONLY
            continue
        if token == "/":
            params = [p.replace(kind=P.POSITIONAL_ONLY) for p in params]
            continue
        name = re.match(r"\**(\w+)", token).group(1)
        if token.startswith("**"):
            params.append(P(name, P.VAR_KEYWORD))
        elif token.startswith("*"):
            params.append(P(name, P.VAR_POSITIONAL))
            kind = P.KEYWORD_ONLY
        else:
            default = None if _has_default(token) else P.empty
            params.append(P(name, kind, default=default))
    # nanobind allows a required parameter after defaulted ones (ttnn.empty's device)
    return inspect.Signature(params, __validate_parameters__=False)


def op_signatures(op: Any) -> list[inspect.Signature]:
    """Every overload of a ttnn operation or function."""
    function = getattr(op, "function", op)
    try:
        return [inspect.signature(function)]
    except (TypeError, ValueError):
        pass
    doc = type(function).__call__.__doc__ if type(function).__name__ != "nb_func" \
        else function.__doc__
    signatures = []
    for line in (doc or "").splitlines():
        text = _parameters_text(line)
        if text is not None and "->" in line:
            signatures.append(parse_signature(text))
    if not signatures:
        raise LookupError(f"no signature found for {op!r}")
    return signatures


def check_call(name: str, op: Any, args: tuple, kwargs: dict) -> None:
    """Raise TypeError unless (args, kwargs) bind to one overload of the real `op`."""
    signatures = op_signatures(op)
    for signature in signatures:
        try:
            signature.bind(*args, **kwargs)
            return
        except TypeError:
            continue
    overloads = "\n  ".join(str(s) for s in signatures)
    raise TypeError(
        f"ttnn.{name} does not accept {len(args)} positional args and keywords "
        f"{sorted(kwargs)}; the installed wheel's overloads:\n  {overloads}"
    )
