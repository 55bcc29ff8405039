"""JSON from files a user (or a hostile download) supplies: strict and bounded.

`loads` refuses what `json.loads` accepts silently or crashes on: duplicate keys (which
value wins is a guess), nesting deeper than `max_depth` (RecursionError), lone UTF-16
surrogates (they pass json but break tokenizers and UTF-8 writers later), NaN/Infinity
literals unless allowed. Errors are `JSONInputError` naming the source.
"""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 64


class JSONInputError(ValueError):
    """JSON that is refused; the message starts with the source (file or file:line)."""


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise JSONInputError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise JSONInputError(f"{name} is not valid JSON")


def loads(text: str | bytes, source: str, max_depth: int = MAX_DEPTH,
          allow_nan: bool = False) -> Any:
    """Parse `text` (from `source`, named first in messages) or raise JSONInputError."""
    try:
        return parse(text, max_depth, allow_nan)
    except JSONInputError as err:
        raise JSONInputError(f"{source}: {err}") from None


def parse(text: str | bytes, max_depth: int = MAX_DEPTH, allow_nan: bool = False) -> Any:
    """`loads` without a source: the message says only what is wrong."""
    try:
        value = json.loads(text, object_pairs_hook=_no_duplicates,
                           parse_constant=None if allow_nan else _no_constant)
    except json.JSONDecodeError as err:
        where = f"line {err.lineno} column {err.colno}" if err.lineno > 1 else \
            f"column {err.colno}"
        raise JSONInputError(f"not valid JSON: {err.msg} at {where}") from None
    except UnicodeDecodeError as err:
        raise JSONInputError(f"not UTF-8 (byte {err.start}: "
                             f"{err.object[err.start:err.start + 1]!r})") from None
    except RecursionError:
        raise JSONInputError(f"nested too deeply to parse (limit {max_depth} levels)") from None
    check_value(value, max_depth)
    return value


def check_value(value: Any, max_depth: int = MAX_DEPTH) -> None:
    """Raise JSONInputError if a parsed value nests too deep or holds lone surrogates."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > max_depth:
                raise JSONInputError(f"nested deeper than {max_depth} levels")
            children = item.items() if isinstance(item, dict) else enumerate(item)
            for key, child in children:
                if isinstance(key, str):
                    _check_text(key)
                stack.append((child, depth + 1))
        elif isinstance(item, str):
            _check_text(item)


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        raise JSONInputError(f"contains a lone UTF-16 surrogate {text[err.start]!r} (not a "
                             "character; the file was written by a broken encoder)") from None


__all__ = ["MAX_DEPTH", "JSONInputError", "check_value", "loads", "parse"]
