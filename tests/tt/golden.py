"""Golden mode: the tt backend's own code, with every ttnn call run by its golden function.

`GoldenTTNN` stands in for the `ttnn` module given to `TTBackend`. An operation call
  1. is bound against the installed wheel's real signature (a wrong keyword fails),
  2. is checked against the device rules the real op validates (tests/tt/rules: extracted
     from the wheel's bundled C++ sources, or kept by hand citing the wheel's binaries),
  3. runs `ttnn.get_golden_function(op)` (Tenstorrent's torch reference) on host torch
     tensors standing in for device tensors (`HostTensor`), or a golden written here
     from ttnn's documented semantics where the wheel has none (`HARNESS_GOLDENS`),
  4. gets the dtype/layout ttnn gives its output, rounded to that dtype (so bfloat16
     runs round like the device stores), and in-place outputs are written in place.
Device management (open/close/synchronize, board and arch queries) uses stand-ins
that emulate one N150. Constants, enums and classes are the real ttnn objects.
"""

from __future__ import annotations

import contextlib
import math
from collections import Counter
from typing import Any

import torch
import ttnn

from tests.tt.rules.enforce import enforce
from tests.tt.rules.predicates import Call
from tests.tt.signatures import check_call

TILE = 32
FastOperation = ttnn.decorators.FastOperation

#: every op the backend called in golden mode this session, with call counts
SESSION_CALLS: Counter[str] = Counter()
#: ops whose golden function was written in this harness (the wheel has none that fits)
SESSION_HARNESS_GOLDENS: set[str] = set()


class HostTensor:
    """A device tensor's stand-in: a host torch value with the ttnn dtype and layout."""

    __slots__ = ("value", "dtype", "layout")

    def __init__(self, value: torch.Tensor, dtype: Any, layout: Any) -> None:
        self.value = value.detach().to(ttnn.ttnn_dtype_to_torch_dtype(dtype))
        self.dtype = dtype
        self.layout = layout

    @property
    def shape(self) -> ttnn.Shape:
        return ttnn.Shape(list(self.value.shape))

    @property
    def padded_shape(self) -> ttnn.Shape:
        """The tile-padded shape a TILE tensor occupies on a device."""
        shape = list(self.value.shape)
        if self.layout != ttnn.TILE_LAYOUT:
            return ttnn.Shape(shape)
        shape = [1] * (2 - len(shape)) + shape
        return ttnn.Shape(shape[:-2] + [math.ceil(n / TILE) * TILE for n in shape[-2:]])

    def __repr__(self) -> str:
        return f"HostTensor({list(self.value.shape)}, {self.dtype}, {self.layout})"


class HostDevice:
    """Stands in for an opened MeshDevice."""

    def __init__(self, mesh_shape: Any) -> None:
        self.mesh_shape = mesh_shape
        self.open = True


class HarnessViolation(AssertionError):
    """A call the real kernel would reject (see tests/tt/rules)."""


# ---------------------------------------------------------------------- goldens written here
def _rotary_embedding(x, cos_cache, sin_cache, token_index=None, **_):
    # The wheel's golden needs token_index (decode). Prefill semantics, from the op's
    # docs and kernel: positions 0..S-1 of the [1, 1, S_cache, D] tables, rotate_half.
    seq = x.shape[-2]
    half = x.shape[-1] // 2
    rotated = torch.cat((-x[..., half:], x[..., :half]), dim=-1)
    return x * cos_cache[..., :seq, :] + rotated * sin_cache[..., :seq, :]


def _scale_mask_softmax(input_tensor, scale=None, mask=None, *_, is_causal_mask=False, **__):
    # The wheel's golden adds the mask by torch broadcasting. Its kernel reads the scale
    # as bfloat16 (truncated: generate_bcast_unary_scalar) and a causal mask's tile rows
    # again every mask height along each batch's rows, heads included
    # (kernels/attention/dataflow/reader_unary_interleaved_sm.cpp, shipped in the wheel).
    x = input_tensor.float()
    if scale is not None:
        bits = torch.tensor([scale], dtype=torch.float32).view(torch.int32) & -65536
        x = x * bits.view(torch.float32).item()
    if mask is not None and is_causal_mask:
        rows, cols = mask.shape[-2:]
        x = (x.reshape(x.shape[0], -1, rows, cols) + mask.float()).reshape(input_tensor.shape)
    elif mask is not None:
        x = x + mask.float()
    return torch.softmax(x, dim=-1)


def _empty(shape, dtype=ttnn.bfloat16, *_, **__):
    # ttnn.empty allocates without writing: NaN stands for whatever the memory held,
    # so a result that depends on it shows up.
    return torch.full(tuple(shape), math.nan, dtype=ttnn.ttnn_dtype_to_torch_dtype(dtype))


def _nlp_create_qkv_heads(input, input_kv=None, *, num_heads, num_kv_heads=None,
                          transpose_k_heads=True, kv_tied=False, **_):
    # The wheel has no golden. From the op's docs and nlp_create_qkv_heads.cpp: the fused
    # [B, 1, S, (H + 2 KV) * D] stream (q heads, k heads, v heads) as q [B, H, S, D],
    # k [B, KV, S, D] ([B, KV, D, S] with transpose_k_heads) and v [B, KV, S, D].
    _require(input_kv is None and not kv_tied,
             "ttnn.experimental.nlp_create_qkv_heads: the harness golden covers one fused "
             "input without kv_tied only")
    kv_heads = num_heads if num_kv_heads is None else num_kv_heads
    batch, _, seq, width = input.shape
    heads = num_heads + 2 * kv_heads
    x = input.reshape(batch, seq, heads, width // heads).transpose(1, 2)
    q, k, v = (t.contiguous() for t in x.split([num_heads, kv_heads, kv_heads], dim=1))
    return q, k.transpose(-2, -1).contiguous() if transpose_k_heads else k, v


def _nlp_concat_heads(input_tensor, **_):
    # The wheel has no golden. From the op's docs: [B, H, S, D] -> [B, 1, S, H * D].
    batch, heads, seq, width = input_tensor.shape
    return input_tensor.transpose(1, 2).reshape(batch, 1, seq, heads * width)


HARNESS_GOLDENS = {
    "experimental.nlp_create_qkv_heads": _nlp_create_qkv_heads,
    "experimental.nlp_concat_heads": _nlp_concat_heads,
    "experimental.rotary_embedding": _rotary_embedding,
    "empty": _empty,
    "scale_mask_softmax": _scale_mask_softmax,
}

#: ops that return host data rather than a device tensor
HOST_RESULTS = {"to_torch"}
#: host<->device copies: no device program is compiled for them
HOST_TRANSFERS = {"to_torch", "from_torch"}

#: multi-output ops: result index -> the keyword naming a preallocated output
OUTPUT_KEYWORDS = {
    "moreh_adamw": ("param_out", "exp_avg_out", "exp_avg_sq_out", "max_exp_avg_sq_out"),
    "moreh_sgd": ("param_out", "momentum_buffer_out"),
    "moreh_layer_norm": ("output", "mean", "rstd"),
    "moreh_layer_norm_backward": ("input_grad", "gamma_grad", "beta_grad"),
}
#: ops that write into a positional argument
IN_PLACE_ARG = {"copy": 1, "multiply_": 0, "add_": 0, "subtract_": 0, "divide_": 0}
#: ops that take ROW_MAJOR tensors (every other op is given TILE tensors only)
ROW_MAJOR_OK = {"embedding", "embedding_bw", "to_layout", "pad", "typecast", "to_torch"}


# ---------------------------------------------------------------------- preconditions
def _require(condition: bool, message: str) -> None:
    if not condition:
        raise HarnessViolation(message)


def _tensors(args: tuple, kwargs: dict) -> list[HostTensor]:
    return leaves(args, kwargs, HostTensor)


def leaves(args: tuple, kwargs: dict, kind: type) -> list[Any]:
    """The `kind` instances among a call's arguments (in lists and tuples too)."""
    found: list[Any] = []

    def visit(value: Any) -> None:
        if isinstance(value, kind):
            found.append(value)
        elif isinstance(value, (list, tuple)):
            for item in value:
                visit(item)

    for value in (*args, *kwargs.values()):
        visit(value)
    return found


def check_rules(call: Call, after: bool = False) -> None:
    """Fail on the ttnn device rules `call` breaks (tests/tt/rules: from the wheel's sources)."""
    messages = enforce(call, after)
    if messages:
        raise HarnessViolation("\n".join(messages))


# tt-metal's fabric rules, verbatim from the wheel's libtt_metal.so
FABRIC_SOURCE = "libtt_metal.so: tt_metal/fabric, SetFabricConfig / MeshDevice open"
FABRIC_ONE_CHIP = ("Fabric config {} requires at least 2 participating chips, but the opened mesh "
                   "has {} local device(s) on a single host. Either open a larger mesh (e.g. a "
                   "MeshShape with >= 2 devices) or call SetFabricConfig(FabricConfig::DISABLED) "
                   "before opening a 1-chip mesh.")
FABRIC_WHILE_OPEN = ("SetFabricConfig({}) is not allowed while devices are still open: it would "
                     "reinitialize the control plane underneath running fabric kernels and dangle "
                     "the ControlPlane& held by the fabric firmware initializer. Close the mesh "
                     "device before changing the fabric config to a non-DISABLED value.")


# ---------------------------------------------------------------------- program keys
#: integer attributes ttnn passes as runtime arguments, outside the program hash
#: (moreh_adamw's step, see moreh_adamw_device_operation.hpp; ttnn.rand's seed)
RUNTIME_ATTRIBUTES = {"step", "seed"}


def _attribute(value: Any) -> Any:
    """A call argument as part of a program key: what the device program is built for."""
    if isinstance(value, HostTensor):
        return ("tensor", tuple(value.value.shape), str(value.dtype), str(value.layout))
    if isinstance(value, torch.Tensor):
        return ("host", tuple(value.shape), str(value.dtype))
    if isinstance(value, float):  # scalars are runtime arguments (binary_ng hashes without them)
        return "float"
    if isinstance(value, (list, tuple)):
        return tuple(_attribute(v) for v in value)
    if value is None or isinstance(value, (bool, int, str)):
        return value
    return type(value).__name__ + (f".{value.name}" if hasattr(value, "name") else "")


def program_key(name: str, args: tuple, kwargs: dict) -> tuple:
    """(op, tensor shapes/dtypes/layouts, attributes): a call that needs a program of its
    own on the device (ttnn compiles one per key and caches it)."""
    attributes = tuple(sorted((k, _attribute(v)) for k, v in kwargs.items()
                              if k not in RUNTIME_ATTRIBUTES))
    return (name, _attribute(args), attributes)


# ---------------------------------------------------------------------- result typing
def _explicit(kind: type, args: tuple, kwargs: dict, key: str) -> Any:
    if isinstance(kwargs.get(key), kind):
        return kwargs[key]
    return next((a for a in args if isinstance(a, kind)), None)


def _result_dtype(value: torch.Tensor, args: tuple, kwargs: dict) -> Any:
    """ttnn's output dtype: the requested one, else the (first float) input's."""
    explicit = _explicit(ttnn.DataType, args, kwargs, "dtype")
    if explicit is not None:
        return explicit
    inputs = _tensors(args, kwargs)
    if value.dtype == torch.bool:  # ttnn comparisons return their input dtype
        return inputs[0].dtype if inputs else ttnn.int32
    if not value.is_floating_point():
        return ttnn.uint32 if value.dtype == torch.uint32 else ttnn.int32
    floats = [t.dtype for t in inputs if t.dtype in (ttnn.bfloat16, ttnn.float32)]
    if floats:
        return floats[0]
    return ttnn.bfloat16 if value.dtype == torch.bfloat16 else ttnn.float32


def _result_layout(args: tuple, kwargs: dict) -> Any:
    explicit = _explicit(ttnn.Layout, args, kwargs, "layout")
    if explicit is not None:
        return explicit
    layouts = [t.layout for t in _tensors(args, kwargs)]  # compute ops produce tiles
    return layouts[0] if layouts and ttnn.TILE_LAYOUT not in layouts else ttnn.TILE_LAYOUT


# ---------------------------------------------------------------------- the module stand-in
class GoldenOp:
    """One ttnn operation, run by its golden function on HostTensors."""

    def __init__(self, name: str, real: FastOperation, harness: GoldenTTNN) -> None:
        self.name, self.real, self.harness = name, real, harness

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        name = self.name
        check_call(name, self.real, args, kwargs)
        self.harness.check_open()
        if name not in ROW_MAJOR_OK:
            for tensor in _tensors(args, kwargs):
                _require(tensor.layout == ttnn.TILE_LAYOUT,
                         f"ttnn.{name} is given a {tensor.layout} tensor {tensor}")
        call = Call(name, self.real, args, kwargs, self.harness)
        check_rules(call)
        self.harness.calls[name] += 1
        if name not in HOST_TRANSFERS:
            self.harness.program_keys.add(program_key(name, args, kwargs))
        SESSION_CALLS[name] += 1
        golden = HARNESS_GOLDENS.get(name)
        if golden is None:
            golden = ttnn.get_golden_function(self.real)
        else:
            SESSION_HARNESS_GOLDENS.add(name)
        host_args, host_kwargs = _to_host((args, kwargs))
        if name.endswith("_bw"):  # as ttnn's own comparison mode prepares them
            host_args, host_kwargs = ttnn.decorators.prepare_backward_golden_inputs(
                (host_args, host_kwargs))
        backward = name.endswith("_bw")  # *_bw goldens differentiate with torch.autograd
        with contextlib.nullcontext() if backward else torch.no_grad():
            result = golden(*host_args, **host_kwargs)
        if name in HOST_RESULTS:
            return result.detach().clone()
        call.result = self._outputs(result, args, kwargs)
        check_rules(call, after=True)
        return call.result

    def _outputs(self, result: Any, args: tuple, kwargs: dict) -> Any:
        names = OUTPUT_KEYWORDS.get(self.name)
        if isinstance(result, (list, tuple)):
            names = names or (None,) * len(result)
            return [self._output(r, args, kwargs, kwargs.get(n) if n else None)
                    for r, n in zip(result, names)]
        target = None
        if self.name in IN_PLACE_ARG:
            target = args[IN_PLACE_ARG[self.name]]
        for key in self.real.output_tensor_kwarg_names + ("input_grad_tensor",):
            if isinstance(kwargs.get(key), HostTensor):
                target = kwargs[key]
        return self._output(result, args, kwargs, target)

    def _output(self, value: torch.Tensor | None, args, kwargs, target: HostTensor | None):
        if value is None:
            return None
        value = value.detach()
        if target is None:
            return HostTensor(value, _result_dtype(value, args, kwargs), _result_layout(args, kwargs))
        _require(tuple(target.value.shape) == tuple(value.shape),
                 f"ttnn.{self.name}: preallocated output {target} for a result of shape "
                 f"{tuple(value.shape)}")
        target.value = value.to(target.value.dtype).clone()
        return target


def _to_host(structure: Any) -> Any:
    """HostTensors -> fresh torch copies (goldens may modify or track their inputs)."""
    if isinstance(structure, HostTensor):
        return structure.value.clone()
    if isinstance(structure, dict):
        return {k: _to_host(v) for k, v in structure.items()}
    if isinstance(structure, (list, tuple)):
        return type(structure)(_to_host(v) for v in structure)
    return structure


class _Namespace:
    """ttnn.transformer, ttnn.experimental: op lookups under a prefix."""

    def __init__(self, harness: GoldenTTNN, prefix: str) -> None:
        self._harness, self._prefix = harness, prefix

    def __getattr__(self, name: str) -> Any:
        return self._harness.resolve(f"{self._prefix}.{name}")


class _Cluster:
    def __init__(self, board: str) -> None:
        self.board = board

    def get_cluster_type(self) -> Any:
        return ttnn.cluster.ClusterType.__members__[self.board]


class GoldenTTNN:
    """The `ttnn` module as the backend sees it, in golden mode (see module docstring)."""

    def __init__(self, board: str = "N150", arch: str = "wormhole_b0", devices: int = 1) -> None:
        self.calls: Counter[str] = Counter()
        #: `program_key` of every op call: the programs a card would have compiled
        self.program_keys: set[tuple] = set()
        self.cluster = _Cluster(board)
        self.transformer = _Namespace(self, "transformer")
        self.experimental = _Namespace(self, "experimental")
        self._arch, self._devices = arch, devices
        self._device: HostDevice | None = None
        self._ops: dict[str, GoldenOp] = {}
        #: the FabricConfig last set (None: never), and the one in force when the mesh opened
        self.fabric: Any = None
        self.fabric_at_open: Any = None
        self._capturing: list | None = None  # ops recorded by begin_trace_capture
        self.traces: dict[int, list] = {}
        self._traces_begun = 0

    def resolve(self, name: str) -> Any:
        real = ttnn
        for part in name.split("."):
            real = getattr(real, part)
        if not isinstance(real, FastOperation):
            return real
        if name not in self._ops:
            self._ops[name] = GoldenOp(name, real, self)
        if self._capturing is not None:
            return _TracedOp(self._ops[name], self)
        return self._ops[name]

    def __getattr__(self, name: str) -> Any:
        return self.resolve(name)

    def check_open(self) -> None:
        _require(self._device is None or self._device.open,
                 "a ttnn op ran after the device was closed")

    # -------------------------------------------------------------- device stand-ins
    def _device_call(self, name: str, *args: Any, **kwargs: Any) -> None:
        check_call(name, getattr(ttnn, name), args, kwargs)
        self.calls[name] += 1

    def GetNumAvailableDevices(self) -> int:  # noqa: N802 (ttnn's name)
        self._device_call("GetNumAvailableDevices")
        return self._devices

    def get_arch_name(self) -> str:
        self._device_call("get_arch_name")
        return self._arch

    def set_fabric_config(self, config: Any, *args: Any, **kwargs: Any) -> None:
        self._device_call("set_fabric_config", config, *args, **kwargs)
        _require(not (self.device_open and config != ttnn.FabricConfig.DISABLED),
                 f"{FABRIC_WHILE_OPEN.format(config)} ({FABRIC_SOURCE})")
        self.fabric = config

    def open_mesh_device(self, *args: Any, **kwargs: Any) -> HostDevice:
        self._device_call("open_mesh_device", *args, **kwargs)
        _require(self._device is None or not self._device.open, "a device is already open")
        _require(self._devices > 1 or self.fabric in (None, ttnn.FabricConfig.DISABLED),
                 f"{FABRIC_ONE_CHIP.format(self.fabric, self._devices)} ({FABRIC_SOURCE})")
        self.fabric_at_open = self.fabric
        self._device = HostDevice(kwargs.get("mesh_shape", args[0] if args else None))
        return self._device

    def close_mesh_device(self, device: HostDevice) -> None:
        self._device_call("close_mesh_device", device)
        _require(device.open, "close_mesh_device called twice")
        device.open = False

    def synchronize_device(self, device: HostDevice, *args: Any, **kwargs: Any) -> None:
        self._device_call("synchronize_device", device, *args, **kwargs)
        _require(device.open, "synchronize_device on a closed device")

    def replicate_tensor_to_mesh_mapper(self, mesh: HostDevice) -> tuple:
        self._device_call("replicate_tensor_to_mesh_mapper", mesh)
        return ("replicate", mesh)

    def get_device_tensors(self, tensor: HostTensor) -> list[HostTensor]:
        self._device_call("get_device_tensors", tensor)
        return [tensor] * self._devices  # replicas of a replicated tensor are equal

    # -------------------------------------------------------------- trace stand-ins
    # A trace as on a device: ops between begin and end are recorded (by the identity
    # of the tensors they read and write: their device addresses), execute_trace
    # recomputes them into the same output tensors with one host call (the replayed
    # ops are not host dispatches, so `calls` does not count them).
    def begin_trace_capture(self, device: HostDevice, **kwargs: Any) -> int:
        self._device_call("begin_trace_capture", device, **kwargs)
        _require(self._capturing is None, "begin_trace_capture inside a trace capture")
        self._capturing, self._made, self._before = [], set(), {}
        self._traces_begun += 1
        return self._traces_begun

    def end_trace_capture(self, device: HostDevice, trace_id: int, **kwargs: Any) -> None:
        self._device_call("end_trace_capture", device, trace_id, **kwargs)
        _require(self._capturing is not None, "end_trace_capture without begin_trace_capture")
        for tensor, value in self._before.values():  # a capture runs nothing on a device
            tensor.value = value
        self.traces[trace_id], self._capturing = self._capturing, None

    def execute_trace(self, device: HostDevice, trace_id: int, **kwargs: Any) -> None:
        self._device_call("execute_trace", device, trace_id, **kwargs)
        _require(trace_id in self.traces, f"execute_trace of unknown trace {trace_id}")
        calls, session = self.calls.copy(), SESSION_CALLS.copy()
        for op, args, op_kwargs, recorded in self.traces[trace_id]:
            _overwrite(recorded, op(*args, **op_kwargs))
        for counter, saved in ((self.calls, calls), (SESSION_CALLS, session)):
            counter.clear()
            counter.update(saved)

    def release_trace(self, device: HostDevice, trace_id: int) -> None:
        self._device_call("release_trace", device, trace_id)
        _require(self.traces.pop(trace_id, None) is not None,
                 f"release_trace of unknown trace {trace_id}")

    @property
    def device_open(self) -> bool:
        return self._device is not None and self._device.open


class _TracedOp:
    """An op called during trace capture: run (outputs get their shapes and
    addresses) and recorded for execute_trace. Tensors that existed before the capture
    get their values back at its end (on a device a capture computes nothing). Host
    transfers cannot be traced."""

    def __init__(self, op: GoldenOp, harness: GoldenTTNN) -> None:
        self.op, self.harness = op, harness

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        _require(self.op.name not in ("to_torch", "from_torch"),
                 f"ttnn.{self.op.name} inside a trace capture (host transfers cannot be traced)")
        harness = self.harness
        for tensor in _host_tensors((args, kwargs)):
            if id(tensor) not in harness._made and id(tensor) not in harness._before:
                harness._before[id(tensor)] = (tensor, tensor.value.clone())
        result = self.op(*args, **kwargs)
        harness._made.update(id(t) for t in _host_tensors(result))
        harness._capturing.append((self.op, args, kwargs, result))
        return result


def _host_tensors(value: Any) -> list[HostTensor]:
    if isinstance(value, HostTensor):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _host_tensors(v)]
    return []


def _overwrite(recorded: Any, fresh: Any) -> None:
    """Write a replayed op's results into the tensors its capture returned."""
    if isinstance(recorded, HostTensor):
        if fresh is not recorded:
            recorded.value = fresh.value
    elif isinstance(recorded, (list, tuple)):
        for r, f in zip(recorded, fresh):
            _overwrite(r, f)
