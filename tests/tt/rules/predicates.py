"""Python predicates for ttnn's C++ validate rules, and the `Call` they are evaluated on.

A predicate takes a `Call` (the op's arguments bound to the wheel's parameter names, plus
its result once computed) and returns True when the rule holds. `Mapped` entries pair a
rule's source key with a predicate (`Check`), a predicate built from the key's own text
(`Interpret`: check_tensor calls, dtype lists, layout tests), or the reason the rule cannot
be violated by the backend's calls (`Skip`).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ttnn

from tests.tt.signatures import op_signatures

TILE = 32
DTYPES = {
    "BFLOAT16": ttnn.bfloat16, "FLOAT32": ttnn.float32, "BFLOAT8_B": ttnn.bfloat8_b,
    "BFLOAT4_B": ttnn.bfloat4_b, "INT32": ttnn.int32, "UINT32": ttnn.uint32,
    "UINT16": ttnn.uint16, "UINT8": ttnn.uint8,
}
LAYOUTS = {"TILE": ttnn.TILE_LAYOUT, "ROW_MAJOR": ttnn.ROW_MAJOR_LAYOUT,
           "TILE_LAYOUT": ttnn.TILE_LAYOUT, "ROW_MAJOR_LAYOUT": ttnn.ROW_MAJOR_LAYOUT}


_SIGNATURES: dict[str, list[inspect.Signature]] = {}


class Call:
    """One ttnn call: arguments by the real parameter names (absent ones are None)."""

    def __init__(self, name: str, real: Any, args: tuple, kwargs: dict, harness: Any = None,
                 result: Any = None) -> None:
        self.name, self.args, self.kwargs, self.harness = name, args, kwargs, harness
        self.result = result
        self.params: dict[str, Any] = {}
        if name not in _SIGNATURES:
            _SIGNATURES[name] = op_signatures(real)
        for signature in _SIGNATURES[name]:
            try:
                bound = signature.bind(*args, **kwargs)
            except TypeError:
                continue
            self.params = {p: None for p in signature.parameters} | dict(bound.arguments)
            break

    def __getitem__(self, name: str) -> Any:
        return self.params.get(name)

    def has(self, name: str) -> bool:
        return self.params.get(name) is not None

    def shape(self, name: str) -> tuple[int, ...]:
        """Logical shape of a tensor argument."""
        return tuple(self[name].value.shape)

    def output(self, name: str, index: int | None = None) -> Any:
        """A preallocated output argument, else the op's result (index for multi-output)."""
        if self.has(name):
            return self[name]
        if self.result is None:
            return None
        return self.result[index] if index is not None else self.result


Predicate = Callable[[Call], bool]


@dataclass(frozen=True)
class Check:
    """A rule's Python form; `after` rules need the op's result."""

    predicate: Predicate
    after: bool = False


@dataclass(frozen=True)
class Interpret:
    """Build the predicate from the C++ condition text, for the tensor `param` (see `interpret`).

    `output=True`: the tensor is the op's output (the preallocated `param`, else the result).
    """

    param: str
    output: bool = False
    index: int | None = None


@dataclass(frozen=True)
class Skip:
    """Why a rule needs no check for the backend's calls (a branch it cannot reach)."""

    reason: str


Mapped = Check | Interpret | Skip

# reasons shared by many rules
ON_DEVICE = ("holds by construction: a HostTensor stands for an allocated tensor on the one "
             "open device (from_torch is checked to get the open device)")
SAME_DEVICE = "holds by construction: the harness emulates one device per tensor group"
SHARDED = ("sharded-memory branch: the harness admits only interleaved memory configs "
           "(rule `interleaved memory config`), so it cannot be reached")
INTERNAL = ("a choice ttnn makes itself (program factory, parallelization strategy, core "
            "ranges, circular-buffer fit), not a property of the call's arguments")
LOCAL_HELPER = "body of a checking helper; enforced where it is called (Interpret/Check there)"
CAPACITY = "an L1 capacity check of the device's memory budget, not emulated"
TILE_ONLY = "ROW_MAJOR branch: the harness gives this op TILE tensors only (layout rule)"
ONE_MEMORY = "holds by construction: every harness tensor is interleaved in DRAM"
COPY_DTYPE = "holds by construction: ttnn.copy(a, b) takes output_dtype from b (copy.cpp:29)"
TILE_32 = "holds by construction: the harness's TILE tensors use 32x32 tiles"
TILE_PADDED = "holds by construction: a TILE tensor's physical volume is whole tiles"
TRANSPOSE_PERMUTES = ("transpose.cpp sends every dim pair other than HC, WH and CN through "
                      "permute, so the device op only sees those three")
NO_OUTPUT = "expand calls repeat without an optional output tensor (expand.cpp)"
CODEGEN = "codegen path, taken only when repeat_force_codegen is requested or supported"
NOT_CALLED = "helper of moreh ops the backend does not call"
GAMMA_BETA_STEP = ("moreh_layer_norm_backward runs its gamma/beta-grad device op only when "
                   "gamma_grad or beta_grad is given (moreh_layer_norm_backward.cpp)")
ONE_RANK = "holds by construction: a HostTensor's logical and padded shapes have one rank"
PAD_RANK4 = ("pad.cpp reshapes inputs to rank 4 before the device op; its rank rules "
             "(pad.cpp:350, :562) are checked")
RM_PATH = ("ROW_MAJOR path (reshape_rm and the 2-D RM reshape it calls): the harness gives "
           "reshape TILE tensors only")
TENSOR_ARGS = "tensor-args slice (start/end given as tensors), which the backend does not use"
SLICE_STRIDED_RM = "slice.cpp converts a strided TILE slice to ROW_MAJOR first (slice.cpp:393)"
SLICE_UNALIGNED_RM = ("slice.cpp sends TILE slices with unaligned begins or sizes down its "
                      "ROW_MAJOR path (slice.cpp:244), so the tile device op never sees them")


def tensor_of(call: Call, mapped: Interpret) -> Any:
    if mapped.output:
        return call.output(mapped.param, mapped.index)
    return call[mapped.param]


def _dtype_names(text: str) -> set[str]:
    return set(re.findall(r"DataType::(\w+)", text))


def interpret(key: str, mapped: Interpret) -> Check:
    """The predicate of a `check_tensor(...)` call or a `x.dtype() == A || ...`/`x.layout() ==`
    condition, applied to the tensor `mapped` names (an absent optional tensor passes)."""
    dtypes = _dtype_names(key)
    layout = re.search(r"Layout::(\w+)|(\w+_LAYOUT)\b", key)
    if key.startswith("check_tensor("):
        # moreh_helper_functions.hpp: data_types = {BFLOAT16}, layout = TILE by default
        dtypes = dtypes or {"BFLOAT16"}
        wanted = {DTYPES[d] for d in dtypes if d in DTYPES}
        tile = ttnn.TILE_LAYOUT

        def check_tensor(call: Call) -> bool:
            tensor = tensor_of(call, mapped)
            return tensor is None or (tensor.dtype in wanted and tensor.layout == tile)
        return Check(check_tensor, after=mapped.output)
    if ("dtype()" in key or "output_dtype ==" in key) and dtypes:
        wanted = {DTYPES[d] for d in dtypes if d in DTYPES}
        return Check(lambda call: (t := tensor_of(call, mapped)) is None or t.dtype in wanted,
                     after=mapped.output)
    if ".layout()" in key and layout:
        want = LAYOUTS[layout.group(1) or layout.group(2)]
        return Check(lambda call: (t := tensor_of(call, mapped)) is None or t.layout == want,
                     after=mapped.output)
    raise ValueError(f"cannot interpret rule {key!r}; map it with Check(...)")


# ---------------------------------------------------------------------- shared predicates
def rank(call: Call, name: str) -> int:
    return len(call.shape(name))


def dim_in_range(dim_param: str, tensor_param: str) -> Predicate:
    """moreh's `dim` checks: 0 <= dim (after Python-side wrapping) < rank."""
    def check(call: Call) -> bool:
        dims = call[dim_param]
        dims = list(range(rank(call, tensor_param))) if dims is None else dims
        dims = dims if isinstance(dims, (list, tuple)) else [dims]
        size = max(rank(call, tensor_param), 2)  # moreh ops see at least 2-D tensors
        return all(-size <= d < size for d in dims)
    return check


def expected_stats_shape(call: Call) -> tuple[int, ...]:
    """moreh_layer_norm's compute_expected_stats_shape: x.shape[:-normalized_dims] (x taken
    at its padded rank, at least 2), canonicalized."""
    shape = call.shape("input")
    shape = (1,) * (2 - len(shape)) + shape
    return canonical(shape[:len(shape) - call["normalized_dims"]])


def canonical(shape: tuple[int, ...]) -> tuple[int, ...]:
    """canonicalize_shape_for_validation: rank 0 -> [1, 1], rank 1 [n] -> [1, n]."""
    return (1,) * (2 - len(shape)) + tuple(shape) if len(shape) < 2 else tuple(shape)


def stats_shape_ok(name: str, index: int | None = None) -> Check:
    def check(call: Call) -> bool:
        stats = call.output(name, index) if index is not None else call[name]
        return stats is None or canonical(tuple(stats.value.shape)) == expected_stats_shape(call)
    return Check(check, after=index is not None)


def gamma_shape_ok(name: str) -> Check:
    """compute_expected_gamma(_beta)_shape: x.shape[-normalized_dims:], canonicalized."""
    def check(call: Call) -> bool:
        tensor = call[name]
        if tensor is None:
            return True
        shape = call.shape("input")
        expected = canonical(shape[len(shape) - min(call["normalized_dims"], len(shape)):])
        return canonical(tuple(tensor.value.shape)) == expected
    return Check(check)


def reduced_shape(call: Call) -> tuple[int, ...]:
    """The shape moreh_sum/moreh_norm give for `dim`/`keepdim` (None: every dim)."""
    shape = call.shape("input")
    dims = call["dim"]
    dims = range(len(shape)) if dims is None else dims if isinstance(dims, (list, tuple)) else [dims]
    dims = {d % max(len(shape), 1) for d in dims}
    if call["keepdim"]:
        return tuple(1 if i in dims else n for i, n in enumerate(shape))
    return tuple(n for i, n in enumerate(shape) if i not in dims)


def keepdim_shape_ok(call: Call) -> bool:
    """validate_output_with_keepdim: a preallocated output has the reduced shape."""
    out = call["output"]
    return out is None or canonical(tuple(out.value.shape)) == canonical(reduced_shape(call))


def fp32_accumulates(call: Call) -> bool:
    """moreh softmax factories: FLOAT32 input needs fp32_dest_acc_en in the kernel config
    (the moreh default config leaves it off)."""
    config = call["compute_kernel_config"]
    return (call["input_tensor"].dtype != ttnn.float32
            or bool(config is not None and config.fp32_dest_acc_en))


def absent(name: str) -> Predicate:
    """A rule of a branch the argument `name` selects; the harness does not emulate it."""
    return lambda call: not call.has(name)


def same(attribute: str) -> Predicate:
    """Every tensor of ttnn.concat's list has the same `attribute` (dtype, layout)."""
    return lambda call: len({getattr(t, attribute) for t in call["tensors"]}) == 1


def concat_dim_ok(call: Call) -> bool:
    size = call["tensors"][0].value.dim()
    return -size <= (call["dim"] or 0) < size


def concat_shapes_match(call: Call) -> bool:
    shapes = [list(t.value.shape) for t in call["tensors"]]
    dim = (call["dim"] or 0) % max(len(shapes[0]), 1)
    for shape in shapes:
        if len(shape) != len(shapes[0]):
            return False
        shape[dim] = 0
    return all(shape == shapes[0] for shape in shapes)


def expand_sizes_ok(call: Call) -> bool:
    """expand.cpp build_expand_plan: aligned from the end, each size is -1, the input's, or
    expands an input size of 1; leading new sizes are non-negative."""
    source, target = call.shape("input_tensor"), list(call["output_shape"])
    offset = len(target) - len(source)
    for index, size in enumerate(target):
        if index < offset:
            if size < 0:
                return False
        elif size != -1 and (size < 0 or (size != source[index - offset]
                                          and source[index - offset] != 1)):
            return False
    return True


REPEAT_RM_DTYPES = {ttnn.uint16, ttnn.bfloat16, ttnn.uint32, ttnn.int32, ttnn.float32}


def repeat_rm_dtype(call: Call) -> bool:
    """The ROW_MAJOR repeat kernel's dtypes; block-float inputs take the tile path."""
    return (call["input_tensor"].dtype in REPEAT_RM_DTYPES
            or call["input_tensor"].layout == ttnn.TILE_LAYOUT)


FILL_PAD_DTYPES = {ttnn.bfloat16, ttnn.float32, ttnn.uint16, ttnn.uint32, ttnn.int32}


def _pads(call: Call) -> list[tuple[int, int]]:
    """ttnn.pad's padding as (front, back) per dim, from either overload."""
    shape = call.shape("input_tensor")
    if call["padding"] is not None:
        pads = [tuple(p) for p in call["padding"]]
        return [(0, 0)] * (len(shape) - len(pads)) + pads
    start, target = list(call["input_tensor_start"]), list(call["output_padded_shape"])
    return [(s, t - n - s) for s, t, n in zip(start, target, shape)]


def pad_nonnegative(call: Call) -> bool:
    return all(front >= 0 and back >= 0 for front, back in _pads(call))


def pad_front_zero_on_tiles(call: Call) -> bool:
    return (call["input_tensor"].layout != ttnn.TILE_LAYOUT
            or all(front == 0 for front, _ in _pads(call)))


def pad_whole_tiles(call: Call) -> bool:
    """A TILE pad's target height and width are whole tiles."""
    tensor = call["input_tensor"]
    if tensor.layout != ttnn.TILE_LAYOUT:
        return True
    padded = list(tensor.padded_shape)
    pads = _pads(call)
    return all((padded[d] + sum(pads[d])) % TILE == 0 for d in (-2, -1) if len(pads) >= -d)


def pad_dtype_ok(call: Call) -> bool:
    """pad_device_operation.cpp: TILE pads FLOAT32/BFLOAT16/INT32/UINT32/BFLOAT8_B(…);
    ROW_MAJOR pads FLOAT32/BFLOAT16/INT32/UINT32/UINT16."""
    tensor = call["input_tensor"]
    if tensor.layout == ttnn.TILE_LAYOUT:
        return tensor.dtype in {ttnn.float32, ttnn.bfloat16, ttnn.int32, ttnn.uint32,
                                ttnn.bfloat8_b}
    return tensor.dtype in {ttnn.float32, ttnn.bfloat16, ttnn.int32, ttnn.uint32, ttnn.uint16}


def pad_leading_unpadded(call: Call) -> bool:
    """Rank > 4: only the lowest 3 dims may be padded."""
    pads = _pads(call)
    return len(pads) <= 4 or all(p == (0, 0) for p in pads[:-3])


def reshape_volume_ok(call: Call) -> bool:
    """reshape_common.cpp infer_dims_for_reshape + reshape.cpp volume checks."""
    volume = call["input_tensor"].value.numel()
    shape = list(call["shape"])
    known = 1
    for size in shape:
        known *= size if size != -1 else 1
    if -1 in shape:
        return known != 0 and volume % known == 0
    return known == volume


def _slice_args(call: Call) -> tuple[list[int], list[int], list[int] | None]:
    starts = call["starts"] if call.has("starts") else call["slice_start"]
    ends = call["ends"] if call.has("ends") else call["slice_end"]
    steps = next((call[n] for n in ("steps", "slice_step") if call.has(n)), None)
    return list(starts), list(ends), None if steps is None else list(steps)


def slice_has_step(call: Call) -> bool:
    steps = _slice_args(call)[2]
    return steps is not None and any(s != 1 for s in steps)


def slice_ranks_ok(call: Call) -> bool:
    starts, ends, steps = _slice_args(call)
    size = rank(call, "input_tensor")
    return len(starts) == len(ends) == size and (steps is None or len(steps) == size)


def slice_bounds_ok(call: Call) -> bool:
    """0 <= start <= end <= size per dim (negative indices wrap, as slice.cpp does)."""
    starts, ends, _ = _slice_args(call)
    shape = call.shape("input_tensor")
    for start, end, size in zip(starts, ends, shape):
        start, end = start % size if start < 0 else start, end % size if end < 0 else end
        if not 0 <= start <= end <= size:
            return False
    return True


def slice_steps_positive(call: Call) -> bool:
    steps = _slice_args(call)[2]
    return steps is None or all(s > 0 for s in steps)


def transpose_dims_ok(call: Call) -> bool:
    """transpose.cpp: dims within the rank and, a rank < 4 tensor being unsqueezed to 4-D,
    at most 3 once normalized."""
    n = rank(call, "input_tensor")
    dims = [call["dim1"], call["dim2"]]
    if not all(-n <= d < n for d in dims):
        return False
    return n > 4 or all((d % n) + max(0, 4 - n) <= 3 for d in dims)
