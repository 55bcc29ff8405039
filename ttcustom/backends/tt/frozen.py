"""Frozen weights laid out once: each frozen linear weight's transpose (or a group's
joint layout), made on first use.

`ttnn.linear(x, w, transpose_b=True)` transposes `w` before the matmul on every call
(ttnn applies matmul transposes to the operands, not in the kernels). A weight that is
not trained (a LoRA base weight, a frozen head) is transposed once instead and the
copy kept while the weight's array is unchanged: replaced (`param.data = ...`),
written in place through the backend (`forget`), or the Parameter collected, the copy
goes too. The original stays: the backward's `grad @ w` reads it as it is.

Weights used together (`grouped_linear`'s members) are held as one entry: its layout
is made from all their arrays and goes when any of them changes or is collected.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

Array = Any


class FrozenLayouts:
    """ids of weight arrays -> (the arrays, their layout), owned by leaf tensors."""

    def __init__(self, lay_out: Callable[..., Any]) -> None:
        self._lay_out = lay_out
        self._layouts: dict[tuple[int, ...], tuple[tuple[Array, ...], Any]] = {}
        #: ids of the weight tensors -> the arrays laid out
        self._owners: dict[tuple[int, ...], tuple[Array, ...]] = {}
        #: id(array) -> the layouts' keys it is part of (for `forget`)
        self._uses: dict[int, set[tuple[int, ...]]] = {}

    def hold(self, *weights: Any) -> None:
        """Lay out the arrays of `weights` (leaf tensors, e.g. Parameters) together
        unless done; the layout lives as long as every weight and its array do."""
        key, arrays = tuple(map(id, weights)), tuple(w.data for w in weights)
        old = self._owners.get(key)
        if old is not None and _same(old, arrays) and _ids(arrays) in self._layouts:
            return
        if old is None:
            for weight in weights:
                weakref.finalize(weight, self._release, key)
        else:
            self._drop(_ids(old))
        self._owners[key] = arrays
        self._layouts[_ids(arrays)] = (arrays, self._lay_out(*arrays))
        for array in arrays:
            self._uses.setdefault(id(array), set()).add(_ids(arrays))

    def get(self, *arrays: Array) -> Any | None:
        """The layout of `arrays`, if they are held frozen weights (held together)."""
        held = self._layouts.get(_ids(arrays))
        return held[1] if held is not None and _same(held[0], arrays) else None

    def forget(self, array: Array) -> None:
        """`array` is being written in place: layouts made from it no longer match."""
        for key in list(self._uses.get(id(array), ())):
            held = self._layouts.get(key)
            if held is not None and any(a is array for a in held[0]):
                self._drop(key)

    def copies(self) -> list[Array]:
        """Every laid-out array held (device memory on top of the weights)."""
        out: list[Array] = []
        for _, layout in self._layouts.values():
            out.extend(layout if isinstance(layout, tuple) else (layout,))
        return out

    def clear(self) -> None:
        self._layouts.clear()
        self._owners.clear()
        self._uses.clear()

    def _release(self, key: tuple[int, ...]) -> None:
        old = self._owners.pop(key, None)
        if old is not None:
            self._drop(_ids(old))

    def _drop(self, key: tuple[int, ...]) -> None:
        held = self._layouts.pop(key, None)
        for array in held[0] if held is not None else ():
            uses = self._uses.get(id(array))
            if uses is not None:
                uses.discard(key)
                if not uses:
                    del self._uses[id(array)]


def _ids(arrays: tuple[Array, ...]) -> tuple[int, ...]:
    return tuple(map(id, arrays))


def _same(a: tuple[Array, ...], b: tuple[Array, ...]) -> bool:
    return len(a) == len(b) and all(x is y for x, y in zip(a, b))
