"""Writing checkpoint directories: atomic replacement and sharded safetensors."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import torch

from ttcustom.models.safetensors_io import write_file
from ttcustom.oserrors import naming, process_exists

SAFETENSORS_METADATA = {"format": "pt"}  # transformers refuses files without it


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


MARKER = ".ttcustom-export.json"  # lists the files an export wrote, so it may replace them


@contextlib.contextmanager
def atomic_directory(out_dir: str | Path) -> Iterator[Path]:
    """Yield a temporary sibling directory; on success it replaces `out_dir` by rename,
    on error (or a signal turned into an exception) it is removed and `out_dir` is
    untouched. An existing `out_dir` is replaced only if it is empty or every file in it
    was written by an earlier export (listed in its MARKER file): never a user's files."""
    out_dir = Path(out_dir).absolute()
    _check_replaceable(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    _remove_orphans(out_dir)
    tag = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp = out_dir.parent / f".{out_dir.name}.tmp-{tag}"
    tmp.mkdir()
    try:
        yield tmp
        mark_written(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = out_dir.parent / f".{out_dir.name}.old-{tag}"
    if out_dir.exists():
        _check_replaceable(out_dir)  # unchanged since the start?
        out_dir.rename(old)
    tmp.rename(out_dir)
    shutil.rmtree(old, ignore_errors=True)


def _remove_orphans(out_dir: Path) -> None:
    """Temporary directories of exports to `out_dir` whose process was killed (SIGKILL,
    power loss: no cleanup ran); a live process's directory is left alone."""
    for orphan in out_dir.parent.glob(f".{out_dir.name}.tmp-*"):
        pid = orphan.name.rsplit(".tmp-", 1)[1].split("-")[0]
        if pid.isdigit() and not process_exists(int(pid)):
            shutil.rmtree(orphan, ignore_errors=True)


def _files(directory: Path) -> set[str]:
    return {p.relative_to(directory).as_posix() for p in directory.rglob("*")
            if not p.is_dir() and p.name != MARKER}


def _check_replaceable(out_dir: Path) -> None:
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise FileExistsError(f"{out_dir} exists and is not a directory; choose a new "
                              "directory to export to")
    present = _files(out_dir)
    try:
        written = set(json.loads((out_dir / MARKER).read_text())["files"])
    except (OSError, ValueError, KeyError, TypeError):
        written = set()
    foreign = sorted(present - written)
    if foreign:
        raise FileExistsError(
            f"{out_dir} holds files ttcustom did not write ({', '.join(foreign[:5])}"
            f"{', ...' if len(foreign) > 5 else ''}); export replaces only an empty directory "
            "or an earlier export: choose a new directory")


def mark_written(directory: str | Path) -> None:
    """Record every file now in `directory` as written by an export (see MARKER); call it
    after adding files (e.g. a tokenizer) to a directory an export just created."""
    directory = Path(directory)
    write_json(directory / MARKER, {"files": sorted(_files(directory))})


def write_json(path: Path, value: object) -> None:
    with naming(path):
        path.write_text(json.dumps(value, indent=2, sort_keys=True) + "\n")


TensorSpec = tuple[str, torch.dtype, tuple[int, ...]]


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


__all__ = ["MARKER", "atomic_directory", "mark_written", "parse_size", "write_json",
           "write_sharded"]
