"""Training checkpoints: everything an exact resume needs, as safetensors + JSON.

A checkpoint directory `checkpoint_step_N/` holds
  model.safetensors      parameters (only the trainable ones when the base is frozen)
  optimizer.safetensors  optimizer tensors; optimizer.json the rest of its state_dict
  scheduler.json         LR schedule position
  rng.safetensors/.json  torch, numpy, Python and ttcustom generator states
  trainer_state.json     step, data position, metric history, early-stopping state,
                         the sha256 of every other file and a write sequence number
It is written into a hidden temporary directory and renamed into place only when
complete (`ttcustom.io.atomic_directory`), so an interrupted write leaves the previous
checkpoints untouched. The
checksums catch what a rename cannot: bytes flipped or cut off later. "Latest" means
the latest written (the sequence number), so a run resumed from an older checkpoint
does not fall back onto the abandoned branch's higher step numbers.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ttcustom import random as tc_random
from ttcustom.autograd.tensor import Tensor
from ttcustom.io import (
    MARKER,
    atomic_directory,
    load_file,
    mark_written,
    read_header,
    remove_orphans,
    save_file,
    write_json,
)

PREFIX = "checkpoint_step_"
_NAME = re.compile(rf"^{PREFIX}(\d+)$")
STATE_FILE = "trainer_state.json"
CHECKSUMS = "checksums"  # trainer_state key: {file name: sha256 hex}
SEQUENCE = "sequence"  # trainer_state key: 1 + the highest sequence in the directory


def checkpoint_name(step: int) -> str:
    return f"{PREFIX}{step}"


def list_checkpoints(directory: str | Path) -> list[Path]:
    """Complete checkpoints in `directory`, oldest written first (step order for
    checkpoints written before sequence numbers)."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found = [(_sequence(p), int(m.group(1)), p) for p in directory.iterdir()
             if (m := _NAME.match(p.name)) and (p / STATE_FILE).is_file()]
    return [p for *_, p in sorted(found)]


def _sequence(path: Path) -> int:
    try:
        value = _read_json(path / STATE_FILE).get(SEQUENCE, -1)
    except (OSError, ValueError, AttributeError):
        return -1
    return value if isinstance(value, int) else -1


def latest_checkpoint(directory: str | Path) -> Path | None:
    found = list_checkpoints(directory)
    return found[-1] if found else None


def prune_checkpoints(directory: str | Path, keep: int) -> None:
    """Delete all but the newest `keep` complete checkpoints."""
    for old in list_checkpoints(directory)[:-keep]:
        shutil.rmtree(old)


def save_checkpoint(target: str | Path, model: Any, optimizer: Any, scheduler: Any,
                    trainer_state: dict[str, Any]) -> Path:
    """Write a checkpoint to `target` atomically (temp dir + rename) and return it."""
    target = Path(target)
    if target.parent.is_dir():
        remove_orphans(target.parent, f"{PREFIX}*")  # torn writes of any step
    sequence = 1 + max((_sequence(p) for p in list_checkpoints(target.parent)), default=0)
    if (target / STATE_FILE).is_file() and not (target / MARKER).is_file():
        mark_written(target)  # a checkpoint written before markers existed: replaceable
    with atomic_directory(target, durable=True) as tmp:
        _write_files(tmp, model, optimizer, scheduler)
        state = {**trainer_state, SEQUENCE: sequence,
                 CHECKSUMS: {p.name: _sha256(p) for p in sorted(tmp.iterdir())}}
        write_json(tmp / STATE_FILE, state)
    return target


def _write_files(tmp: Path, model: Any, optimizer: Any, scheduler: Any) -> None:
    trainable_only = any(not p.requires_grad for p in model.parameters())
    save_file(model_tensors(model, trainable_only), tmp / "model.safetensors",
              {"trainable_only": str(trainable_only)})
    opt_tensors, opt_json = _split_optimizer_state(optimizer.state_dict())
    save_file(opt_tensors, tmp / "optimizer.safetensors")
    write_json(tmp / "optimizer.json", opt_json)
    write_json(tmp / "scheduler.json", scheduler.state_dict() if scheduler is not None else None)
    rng_tensors, rng_json = _split_rng(tc_random.get_rng_state())
    save_file(rng_tensors, tmp / "rng.safetensors")
    write_json(tmp / "rng.json", rng_json)


def verify_checkpoint(source: str | Path) -> str | None:
    """None if every file matches the sha256 in trainer_state.json, else what is wrong.
    Checkpoints written before checksums existed pass (nothing to compare with)."""
    source = Path(source)
    try:
        state = _read_json(source / STATE_FILE)
    except (OSError, ValueError) as err:
        return f"{STATE_FILE} cannot be read ({err})"
    if not isinstance(state, dict):
        return f"{STATE_FILE} is not a JSON object"
    for name, digest in (state.get(CHECKSUMS) or {}).items():
        path = source / name
        if not path.is_file():
            return f"{name} is missing"
        if _sha256(path) != digest:
            return f"{name} does not match its sha256 (damaged or changed after it was written)"
    return None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_checkpoint(source: str | Path, model: Any, optimizer: Any, scheduler: Any) -> dict:
    """Restore model, optimizer, scheduler and RNG in place; return the trainer state."""
    source = Path(source)
    if not (source / STATE_FILE).is_file():
        raise FileNotFoundError(f"{source} is not a complete checkpoint (no {STATE_FILE}); "
                                "resume from one listed by its parent directory")
    load_model_file(model, source / "model.safetensors")
    optimizer.load_state_dict(_join_optimizer_state(
        load_file(source / "optimizer.safetensors"), _read_json(source / "optimizer.json")))
    scheduler_state = _read_json(source / "scheduler.json")
    if scheduler is not None and scheduler_state is not None:
        scheduler.load_state_dict(scheduler_state)
    tc_random.set_rng_state(_join_rng(load_file(source / "rng.safetensors"),
                                      _read_json(source / "rng.json")))
    return read_state(source)


def read_state(source: str | Path) -> dict:
    """The trainer state saved in a checkpoint (step, data position, prompt format...)."""
    return _read_json(Path(source) / STATE_FILE)


def model_tensors(model: Any, trainable_only: bool, names_only: bool = False) -> dict[str, Any]:
    """Host copies of the model's state (or only its trainable parameters), by name.

    A tensor shared under two names (tied embeddings) is stored once, under its first name.
    """
    trainable = {id(p) for p in model.parameters() if p.requires_grad}
    seen: set[int] = set()
    out = {}
    for name, value in model.state_dict(keep_vars=True).items():
        if (trainable_only and id(value) not in trainable) or id(value) in seen:
            continue
        seen.add(id(value))
        out[name] = None if names_only else value.to_torch().contiguous()
    return out


def load_model_file(model: Any, path: str | Path) -> None:
    """Load a checkpoint's model.safetensors (full or trainable-only) into `model`."""
    trainable_only = read_header(path).metadata.get("trainable_only") == "True"
    tensors = load_file(path)
    expected = set(model_tensors(model, trainable_only, names_only=True))
    if set(tensors) != expected:
        missing, extra = sorted(expected - set(tensors)), sorted(set(tensors) - expected)
        raise ValueError(f"{path} does not match this model: missing {missing[:5]}, "
                         f"unexpected {extra[:5]} (same model config and LoRA settings?)")
    model.load_state_dict(tensors, strict=False)


# ----------------------------------------------------------------- state <-> files
def _split_optimizer_state(state: dict) -> tuple[dict[str, torch.Tensor], dict]:
    tensors, plain = {}, {}
    for index, values in state["state"].items():
        plain[str(index)] = {}
        for key, value in values.items():
            if isinstance(value, Tensor):
                tensors[f"{index}.{key}"] = value.to_torch().contiguous()
            elif isinstance(value, torch.Tensor):
                tensors[f"{index}.{key}"] = value.contiguous()
            else:
                plain[str(index)][key] = value
    return tensors, {"state": plain, "param_groups": state["param_groups"]}


def _join_optimizer_state(tensors: dict[str, torch.Tensor], plain: dict) -> dict:
    state = {int(i): dict(values) for i, values in plain["state"].items()}
    for name, value in tensors.items():
        index, key = name.split(".", 1)
        state.setdefault(int(index), {})[key] = value
    return {"state": state, "param_groups": plain["param_groups"]}


def _split_rng(state: dict) -> tuple[dict[str, torch.Tensor], dict]:
    kind, keys, pos, has_gauss, cached = state["numpy"]
    version, internal, gauss = state["python"]
    tensors = {"torch": state["torch"], "ttcustom": state["ttcustom"],
               "numpy_keys": torch.from_numpy(np.asarray(keys, dtype=np.uint32).view(np.int32))}
    plain = {"numpy": [kind, int(pos), int(has_gauss), float(cached)],
             "python": [version, list(internal), gauss]}
    return tensors, plain


def _join_rng(tensors: dict[str, torch.Tensor], plain: dict) -> dict:
    kind, pos, has_gauss, cached = plain["numpy"]
    keys = tensors["numpy_keys"].numpy().view(np.uint32)
    version, internal, gauss = plain["python"]
    return {"torch": tensors["torch"], "ttcustom": tensors["ttcustom"],
            "numpy": (kind, keys, pos, has_gauss, cached),
            "python": (version, tuple(internal), gauss)}


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))

