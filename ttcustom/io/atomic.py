"""Files and directories that appear whole or not at all, and the JSON ttcustom writes.

`atomic_directory` builds a directory (an export, a training checkpoint) in a hidden
sibling and renames it into place when complete: an error, a signal turned into an
exception or a SIGKILL leaves the previous directory untouched. It never replaces a
directory holding files ttcustom did not write (listed in its MARKER file).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

from ttcustom.oserrors import naming, process_exists

MARKER = ".ttcustom-export.json"  # lists the files ttcustom wrote, so it may replace them


@contextlib.contextmanager
def atomic_directory(out_dir: str | Path, durable: bool = False) -> Iterator[Path]:
    """Yield a temporary sibling directory; on success it replaces `out_dir` by rename,
    on error (or a signal turned into an exception) it is removed and `out_dir` is
    untouched. An existing `out_dir` is replaced only if it is empty or every file in it
    was written by ttcustom (listed in its MARKER file): never a user's files.
    `durable` fsyncs the files and directories, so a power loss cannot leave a renamed
    directory with empty files (training checkpoints)."""
    out_dir = Path(out_dir).absolute()
    _check_replaceable(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    remove_orphans(out_dir.parent, out_dir.name)
    tag = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp = out_dir.parent / f".{out_dir.name}.tmp-{tag}"
    tmp.mkdir()
    try:
        yield tmp
        mark_written(tmp)
        if durable:
            for path in sorted(tmp.rglob("*")):
                fsync(path)
            fsync(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = out_dir.parent / f".{out_dir.name}.old-{tag}"
    if out_dir.exists():
        _check_replaceable(out_dir)  # unchanged since the start?
        out_dir.rename(old)
    tmp.rename(out_dir)
    shutil.rmtree(old, ignore_errors=True)
    if durable:
        fsync(out_dir.parent)


def remove_orphans(parent: Path, name_glob: str) -> None:
    """Temporary directories of `atomic_directory` calls for `parent/name_glob` whose
    process was killed (SIGKILL, power loss: no cleanup ran); a live process's directory
    is left alone."""
    for orphan in parent.glob(f".{name_glob}.tmp-*"):
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
                              "directory to write to")
    present = _files(out_dir)
    try:
        written = set(json.loads((out_dir / MARKER).read_text())["files"])
    except (OSError, ValueError, KeyError, TypeError):
        written = set()
    foreign = sorted(present - written)
    if foreign:
        raise FileExistsError(
            f"{out_dir} holds files ttcustom did not write ({', '.join(foreign[:5])}"
            f"{', ...' if len(foreign) > 5 else ''}); ttcustom replaces only an empty directory "
            "or one it wrote (an earlier export): choose a new directory")


def mark_written(directory: str | Path) -> None:
    """Record every file now in `directory` as written by ttcustom (see MARKER); call it
    after adding files (e.g. a tokenizer) to a directory an export just created."""
    directory = Path(directory)
    write_json(directory / MARKER, {"files": sorted(_files(directory))})


def write_json(path: str | Path, value: object) -> None:
    """`value` as indented JSON with sorted keys (errors name `path`)."""
    with naming(path):
        Path(path).write_text(json.dumps(value, indent=2, sort_keys=True) + "\n",
                              encoding="utf-8")


@contextlib.contextmanager
def atomic_file(path: str | Path) -> Iterator[Path]:
    """Yield a temporary sibling of `path` to write; it replaces `path` when the block
    completes and is removed if it fails, so a half-written file is never left behind."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def fsync(path: Path) -> None:
    """Flush `path` (a file or a directory) to the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


__all__ = ["MARKER", "atomic_directory", "atomic_file", "fsync", "mark_written",
           "remove_orphans", "write_json"]
