"""File I/O: every file ttcustom writes, and every safetensors file it reads, goes through here.

- `ttcustom.io.atomic`: directories and files that appear whole or not at all (exports,
  training checkpoints, plots), never replacing a user's files; the JSON writer.
- `ttcustom.io.safetensors`: the validating streaming reader (offsets and sizes checked
  against the file before anything is allocated) and writer, sharded or not.
"""

from ttcustom.io.atomic import (
    MARKER,
    atomic_directory,
    atomic_file,
    fsync,
    mark_written,
    remove_orphans,
    write_json,
)
from ttcustom.io.safetensors import (
    SAFETENSORS_METADATA,
    CheckpointError,
    iter_tensors,
    load_file,
    parse_size,
    read_header,
    save_file,
    write_file,
    write_sharded,
)

__all__ = [
    "MARKER",
    "SAFETENSORS_METADATA",
    "CheckpointError",
    "atomic_directory",
    "atomic_file",
    "fsync",
    "iter_tensors",
    "load_file",
    "mark_written",
    "parse_size",
    "read_header",
    "remove_orphans",
    "save_file",
    "write_file",
    "write_json",
    "write_sharded",
]
