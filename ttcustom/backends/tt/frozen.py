"""Frozen weights laid out once: each frozen linear weight's transpose, made on first use.

`ttnn.linear(x, w, transpose_b=True)` transposes `w` before the matmul on every call
(ttnn applies matmul transposes to the operands, not in the kernels). A weight that is
not trained (a LoRA base weight, a frozen head) is transposed once instead and the
copy kept while the weight's array is unchanged: replaced (`param.data = ...`),
written in place through the backend (`forget`), or the Parameter collected, the copy
goes too. The original stays: the backward's `grad @ w` reads it as it is.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

Array = Any


class FrozenLayouts:
    """id(weight array) -> (array, its [in, out] layout), owned by leaf tensors."""

    def __init__(self, lay_out: Callable[[Array], Array]) -> None:
        self._lay_out = lay_out
        self._layouts: dict[int, tuple[Array, Array]] = {}
        self._owners: dict[int, Array] = {}  # id(weight tensor) -> the array laid out

    def hold(self, weight: Any) -> None:
        """Lay out `weight` (a leaf tensor, e.g. a Parameter) unless done; the copy lives
        as long as `weight` and its array do."""
        key, array = id(weight), weight.data
        old = self._owners.get(key)
        if old is array and id(array) in self._layouts:
            return
        if old is None:
            weakref.finalize(weight, self._release, key)
        else:
            self._layouts.pop(id(old), None)
        self._owners[key] = array
        self._layouts[id(array)] = (array, self._lay_out(array))

    def get(self, array: Array) -> Array | None:
        """The laid-out copy of `array`, if it is a held frozen weight."""
        held = self._layouts.get(id(array))
        return held[1] if held is not None and held[0] is array else None

    def forget(self, array: Array) -> None:
        """`array` is being written in place: its copy no longer matches."""
        self._layouts.pop(id(array), None)

    def copies(self) -> list[Array]:
        """Every laid-out copy held (device memory on top of the weights)."""
        return [copy for _, copy in self._layouts.values()]

    def clear(self) -> None:
        self._layouts.clear()
        self._owners.clear()

    def _release(self, key: int) -> None:
        old = self._owners.pop(key, None)
        if old is not None:
            self._layouts.pop(id(old), None)
