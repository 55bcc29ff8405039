"""The safetensors reader and writer every ttcustom file goes through, one tensor at a time.

The format is an 8-byte little-endian header length, a JSON header
{name: {dtype, shape, data_offsets}}, then the raw bytes. Reading each tensor with
`readinto` into a fresh buffer (no mmap) keeps peak host memory at one tensor beyond the
model, and validating every offset against the file size up front turns a truncated
download into an error naming the file and the first tensor it cuts.
"""

from __future__ import annotations

import json
import math
import os
import re
import struct
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from ttcustom import safejson
from ttcustom.io.atomic import write_json
from ttcustom.oserrors import naming

DTYPES: dict[str, torch.dtype] = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8,
    "U8": torch.uint8, "BOOL": torch.bool,
    "F8_E4M3": torch.float8_e4m3fn, "F8_E5M2": torch.float8_e5m2,
}
DTYPE_NAMES = {dtype: name for name, dtype in DTYPES.items()}
_MAX_HEADER = 100 * 1024 * 1024
SAFETENSORS_METADATA = {"format": "pt"}  # transformers refuses files without it
TensorSpec = tuple[str, torch.dtype, tuple[int, ...]]


class CheckpointError(ValueError):
    """A checkpoint file or directory that cannot be loaded; the message names it."""


@dataclass(frozen=True)
class TensorInfo:
    name: str
    dtype: torch.dtype
    shape: tuple[int, ...]
    begin: int  # absolute file offsets
    end: int


@dataclass(frozen=True)
class SafetensorsHeader:
    path: Path
    tensors: dict[str, TensorInfo]
    metadata: dict[str, str]


def read_header(path: str | os.PathLike) -> SafetensorsHeader:
    """Parse and validate the header of `path` before anything is allocated: a JSON
    object of known dtypes and shapes whose byte ranges lie inside the file, match the
    shapes and do not overlap (what the reference reader checks, plus duplicates)."""
    path = Path(path)
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise CheckpointError(f"{path}: {size} bytes is too small for a safetensors file "
                                  "(truncated?); re-download or re-export it")
        (length,) = struct.unpack("<Q", head)
        if length > min(_MAX_HEADER, size - 8):
            raise CheckpointError(f"{path}: header length {length} exceeds the file size "
                                  f"({size} bytes) or the {_MAX_HEADER >> 20} MiB limit: the "
                                  "file is truncated or not safetensors")
        try:
            header = safejson.loads(f.read(length), str(path), max_depth=4)
        except safejson.JSONInputError as err:
            raise CheckpointError(f"{err} (in the safetensors header)") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{path}: the header is not a JSON object; not a safetensors "
                              "file (or a damaged one)")
    data_start = 8 + length
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise CheckpointError(f"{path}: __metadata__ must map strings to strings")
    tensors = {}
    for name, entry in header.items():
        tensors[name] = _tensor_info(path, name, entry, data_start, size)
    _check_no_overlap(path, tensors)
    return SafetensorsHeader(path, tensors, metadata)


def _tensor_info(path: Path, name: str, entry: object, data_start: int, size: int) -> TensorInfo:
    ok = (isinstance(entry, dict) and isinstance(entry.get("dtype"), str)
          and isinstance(entry.get("shape"), list) and isinstance(entry.get("data_offsets"), list)
          and len(entry["data_offsets"]) == 2
          and all(_is_count(n) for n in entry["shape"] + entry["data_offsets"]))
    if not ok:
        raise CheckpointError(f"{path}: tensor {name!r} has a malformed header entry {entry!r} "
                              "(needs dtype, a shape of integers >= 0 and two data_offsets >= 0)")
    if entry["dtype"] not in DTYPES:
        raise CheckpointError(f"{path}: tensor {name!r} has dtype {entry['dtype']!r}, not one "
                              f"of {', '.join(DTYPES)}")
    dtype = DTYPES[entry["dtype"]]
    shape = tuple(entry["shape"])
    begin, end = entry["data_offsets"]
    nbytes = math.prod(shape) * dtype.itemsize
    if end < begin or end - begin != nbytes:
        raise CheckpointError(f"{path}: tensor {name!r} ({entry['dtype']} {list(shape)}) "
                              f"needs {nbytes} bytes but its offsets [{begin}, {end}] span "
                              f"{end - begin}")
    if data_start + end > size:
        raise CheckpointError(
            f"{path}: tensor {name!r} needs bytes up to {data_start + end} but the file has "
            f"{size}: the file is truncated; re-download or re-export it"
        )
    return TensorInfo(name, dtype, shape, data_start + begin, data_start + end)


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _check_no_overlap(path: Path, tensors: dict[str, TensorInfo]) -> None:
    previous = None
    for info in sorted(tensors.values(), key=lambda t: (t.begin, t.end)):
        if previous is not None and info.begin < previous.end and info.end > info.begin:
            raise CheckpointError(f"{path}: tensors {previous.name!r} and {info.name!r} share "
                                  "bytes (overlapping data_offsets): a damaged or forged file")
        if info.end > info.begin:
            previous = info


def read_tensor(f, info: TensorInfo) -> torch.Tensor:
    """The tensor `info` describes, read from the open binary file `f` into a new buffer."""
    buffer = torch.empty(info.end - info.begin, dtype=torch.uint8)
    if buffer.numel():
        f.seek(info.begin)
        got = f.readinto(memoryview(buffer.numpy()))
        if got != buffer.numel():
            raise CheckpointError(f"{f.name}: tensor {info.name!r} ends early ({got} of "
                                  f"{buffer.numel()} bytes): the file is truncated")
    return buffer.view(info.dtype).reshape(info.shape)


def iter_tensors(header: SafetensorsHeader, names: Sequence[str]) -> Iterator[tuple[str, torch.Tensor]]:
    """(name, tensor) for `names` of one file, in file order (sequential reads)."""
    ordered = sorted(names, key=lambda n: header.tensors[n].begin)
    with open(header.path, "rb") as f:
        for name in ordered:
            yield name, read_tensor(f, header.tensors[name])


def load_file(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Every tensor of the safetensors file `path`, by name (header validated first)."""
    header = read_header(path)
    return dict(iter_tensors(header, list(header.tensors)))


def write_file(path: str | os.PathLike, specs: Sequence[TensorSpec],
               produce: Callable[[str], torch.Tensor], metadata: dict[str, str] | None = None
               ) -> None:
    """Write a safetensors file whose tensors `produce(name)` returns one at a time.

    `specs` gives (name, dtype, shape) so the header is written first; each produced
    tensor must match its spec.
    """
    header: dict[str, object] = {}
    offset = 0
    for name, dtype, shape in specs:
        if dtype not in DTYPE_NAMES:
            raise ValueError(f"{path}: tensor {name!r} is {dtype}; a safetensors file holds "
                             f"only {', '.join(str(d) for d in DTYPE_NAMES)}: convert it first")
        nbytes = math.prod(shape) * dtype.itemsize
        header[name] = {"dtype": DTYPE_NAMES[dtype], "shape": list(shape),
                        "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    if metadata:
        header["__metadata__"] = metadata
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)  # the data starts 8-byte aligned, as the reference writer does
    with naming(path), open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for name, dtype, shape in specs:
            tensor = produce(name)
            if tensor.dtype != dtype or tuple(tensor.shape) != tuple(shape):
                raise ValueError(f"write_file: {name!r} produced {tensor.dtype} "
                                 f"{tuple(tensor.shape)}, expected {dtype} {tuple(shape)}")
            f.write(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy())


def save_file(tensors: dict[str, torch.Tensor], path: str | os.PathLike,
              metadata: dict[str, str] | None = None) -> None:
    """`safetensors.torch.save_file` for host tensors already in memory."""
    specs = [(name, t.dtype, tuple(t.shape)) for name, t in tensors.items()]
    write_file(path, specs, tensors.__getitem__, metadata)


def parse_size(size: int | str) -> int:
    """Bytes from an int or "5GB" / "500MB" / "2GiB" (decimal and binary units, as
    transformers' `max_shard_size`)."""
    if isinstance(size, int):
        return size
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(I?)B\s*", size.upper())
    if not match:
        raise ValueError(f"max_shard_size {size!r}: use bytes or a size like '5GB' or '500MB'")
    number, prefix, binary = match.groups()
    power = "KMGT".index(prefix) + 1 if prefix else 0
    return int(float(number) * (1024 if binary else 1000) ** power)


def write_sharded(directory: Path, stem: str, specs: Sequence[TensorSpec],
                  produce: Callable[[str], torch.Tensor], max_shard_size: int | str) -> list[str]:
    """Write `{stem}.safetensors`, or `{stem}-0000k-of-0000n.safetensors` plus
    `{stem}.safetensors.index.json` when the tensors exceed `max_shard_size`.
    Tensors are produced and written one at a time; returns the file names."""
    limit = parse_size(max_shard_size)
    shards: list[list[TensorSpec]] = [[]]
    size = 0
    for spec in specs:
        nbytes = spec[1].itemsize * int(torch.Size(spec[2]).numel())
        if shards[-1] and size + nbytes > limit:
            shards.append([])
            size = 0
        shards[-1].append(spec)
        size += nbytes
    if len(shards) == 1:
        names = [f"{stem}.safetensors"]
    else:
        names = [f"{stem}-{k:05d}-of-{len(shards):05d}.safetensors"
                 for k in range(1, len(shards) + 1)]
    for name, shard in zip(names, shards):
        write_file(directory / name, shard, produce, SAFETENSORS_METADATA)
    if len(shards) > 1:
        total = sum(s[1].itemsize * int(torch.Size(s[2]).numel()) for s in specs)
        weight_map = {spec[0]: name for name, shard in zip(names, shards) for spec in shard}
        write_json(directory / f"{stem}.safetensors.index.json",
                   {"metadata": {"total_size": total}, "weight_map": weight_map})
    return names


__all__ = [
    "DTYPES",
    "SAFETENSORS_METADATA",
    "CheckpointError",
    "SafetensorsHeader",
    "TensorInfo",
    "TensorSpec",
    "iter_tensors",
    "load_file",
    "parse_size",
    "read_header",
    "read_tensor",
    "save_file",
    "write_file",
    "write_sharded",
]
