"""Weight-name tables: ttcustom parameter names <-> transformers checkpoint names.

Each architecture declares one explicit `WeightTable`; `{i}` stands for a layer index.
Loading, export and PEFT adapters all derive their names from it, so one table is the
single place where a checkpoint layout is described.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

import torch


class W(NamedTuple):
    """One table row: our name, the HF name, and whether HF stores it transposed
    ([in, out], GPT-2's Conv1D) while we store [out, in]."""

    ours: str
    hf: str
    transposed: bool = False


def _pattern(template: str) -> re.Pattern:
    return re.compile(re.escape(template).replace(r"\{i\}", r"(?P<i>\d+)") + r"\Z")


@dataclass(frozen=True)
class WeightTable:
    """Rows of `W`; `ignored` are regexes of HF keys that carry no weights (old buffers);
    `optional_prefix` is a prefix some checkpoints of the architecture omit."""

    rows: tuple[W, ...]
    ignored: tuple[str, ...] = ()
    optional_prefix: str = ""
    _compiled: list = field(default_factory=list, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._compiled.extend((_pattern(row.ours), row) for row in self.rows)

    def lookup(self, ours: str) -> tuple[str, bool]:
        """(HF name, transposed) for one of our parameter names."""
        for pattern, row in self._compiled:
            match = pattern.match(ours)
            if match:
                index = match.groupdict().get("i")
                return row.hf.replace("{i}", index) if index else row.hf, row.transposed
        raise KeyError(f"no weight-table row for parameter {ours!r}")

    def hf_names(self, ours: Iterable[str]) -> dict[str, tuple[str, bool]]:
        """Our name -> (HF name, transposed) for every given name."""
        return {name: self.lookup(name) for name in ours}

    def is_ignored(self, hf_name: str) -> bool:
        return any(re.fullmatch(p, hf_name) for p in self.ignored)

    def canonical(self, hf_name: str, known: set[str] | dict) -> str:
        """`hf_name` with the optional prefix added when the checkpoint left it out."""
        if hf_name in known or not self.optional_prefix:
            return hf_name
        prefixed = self.optional_prefix + hf_name
        return prefixed if prefixed in known else hf_name


def relayout(tensor: torch.Tensor, transposed: bool) -> torch.Tensor:
    """A host tensor moved between our layout and the checkpoint's (a transpose is its
    own inverse, so one function serves both directions)."""
    return tensor.t().contiguous() if transposed else tensor


__all__ = ["W", "WeightTable", "relayout"]
