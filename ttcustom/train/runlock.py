"""One run per run directory: a lock file holding the owner's pid.

`RunLock(dir).acquire()` creates `dir/.ttcustom.lock` exclusively; a second run in the
same directory is refused with the holder's pid. A lock left by a process that no
longer exists (killed with -9, a crashed machine) is taken over.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from ttcustom.oserrors import process_exists

LOCK_NAME = ".ttcustom.lock"


class RunLock:
    def __init__(self, directory: str | Path) -> None:
        self.path = Path(directory) / LOCK_NAME
        self.held = False

    def acquire(self) -> None:
        """Take the lock or raise FileExistsError naming the running process."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = _holder(self.path)
                if holder is not None and process_exists(holder):
                    raise FileExistsError(
                        f"{self.path.parent} is in use by another run (pid {holder}, lock file "
                        f"{self.path}); wait for it to finish, or pick another --output-dir"
                    ) from None
                with contextlib.suppress(FileNotFoundError):  # stale: its owner is gone
                    self.path.unlink()
                continue
            with os.fdopen(fd, "w") as handle:
                handle.write(f"{os.getpid()}\n")
            self.held = True
            return
        raise FileExistsError(f"{self.path}: could not take the run lock; another run is "
                              "starting in the same directory")

    def release(self) -> None:
        if self.held:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            self.held = False


def _holder(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


__all__ = ["LOCK_NAME", "RunLock"]
