"""OS errors (disk full, read-only or forbidden directories) as one line naming the path,
and whether a process (the holder of a lock or temporary directory) still exists.

`naming(path)` re-raises an OSError that lacks a file name (a failed `write()`) with
`path` attached, so `describe(err)` can say which file and what to do.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator
from pathlib import Path

_HINTS = {
    errno.ENOSPC: "the disk is full: free some space or write to another directory "
                  "(--output-dir)",
    errno.EDQUOT: "the disk quota is used up: free some space or write elsewhere",
    errno.EROFS: "the file system is read-only: write to another directory (--output-dir)",
    errno.EACCES: "no permission to write there: choose a directory you own (--output-dir)",
    errno.EPERM: "no permission to write there: choose a directory you own (--output-dir)",
}


@contextlib.contextmanager
def naming(path: str | Path) -> Iterator[None]:
    """Attach `path` to OSErrors raised inside the block."""
    try:
        yield
    except OSError as err:
        if err.filename is None and err.errno is not None:
            raise OSError(err.errno, err.strerror, str(path)) from err
        raise


def describe(err: OSError) -> str:
    """`path: reason; what to do` (or the error's own message when it names no file)."""
    if err.filename is None or err.strerror is None:
        return str(err)
    hint = _HINTS.get(err.errno)
    return f"{err.filename}: {err.strerror}" + (f"; {hint}" if hint else "")


def process_exists(pid: int) -> bool:
    """Whether process `pid` is running (this process counts as running)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    return True


__all__ = ["describe", "naming", "process_exists"]
