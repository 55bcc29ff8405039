"""`from_hf`: a transformers checkpoint (directory or in-memory model) -> a ttcustom model.

Steps: read config.json -> `ModelConfig`; build the model without drawing initial
values; check every checkpoint tensor's name and shape against the architecture's weight
table (all problems reported together, before anything is loaded); then stream the
tensors one at a time onto the backend. `.bin` (pickle) files load only with
`allow_pickle=True`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ttcustom import safejson
from ttcustom.backends import Backend
from ttcustom.io import CheckpointError, iter_tensors, read_header
from ttcustom.models.causal_lm import CausalLM
from ttcustom.models.config import ConfigError, ModelConfig
from ttcustom.models.gguf import gguf_weights, is_gguf
from ttcustom.models.registry import model_class
from ttcustom.models.sizecheck import check_model_fits
from ttcustom.models.weights import relayout
from ttcustom.nn import init

SAFETENSORS = "model.safetensors"
SAFETENSORS_INDEX = "model.safetensors.index.json"
PICKLE = "pytorch_model.bin"
PICKLE_INDEX = "pytorch_model.bin.index.json"


@dataclass
class Entry:
    shape: tuple[int, ...]
    dtype: torch.dtype
    location: str  # file (or object) it comes from, for messages


@dataclass
class WeightSource:
    """Names, shapes and locations of a pretrained model's tensors (its files or an
    in-memory model), and a reader for them.

    `groups` lists (source, tensor names) per file, in reading order; `reader(source,
    names)` yields (name, host tensor) for names of one source. The model adopts the
    yielded tensors as its parameters' storage, so a reader yields tensors it owns.
    """

    label: str
    entries: dict[str, Entry]
    groups: list[tuple[Any, list[str]]]
    reader: Callable[[Any, list[str]], Iterator[tuple[str, torch.Tensor]]]

    def read(self, wanted: set[str]) -> Iterator[tuple[str, torch.Tensor]]:
        for key, names in self.groups:
            chosen = [n for n in names if n in wanted]
            if chosen:
                yield from self.reader(key, chosen)


# ---------------------------------------------------------------------- public entry
def from_hf(
    source: str | os.PathLike | Any,
    dtype: torch.dtype | None = None,
    backend: str | Backend | None = None,
    allow_pickle: bool = False,
) -> CausalLM:
    """A ttcustom model from a transformers checkpoint directory, a llama.cpp `.gguf`
    file (see `from_gguf`), a Hugging Face Hub id (see `resolve_model_dir`) or an
    in-memory transformers model.

    `dtype` defaults to the backend's float type (fp32 on the reference backend); the
    checkpoint's own dtype is kept in `model.config.dtype` and used again by export.
    """
    if hasattr(source, "state_dict") and hasattr(source, "config"):
        config, weights = _from_transformers_model(source)
    elif is_gguf(source):
        config, weights = gguf_weights(source)
    else:
        config, weights = _from_directory(resolve_model_dir(source, allow_pickle),
                                             allow_pickle)
    check_model_fits(config, dtype, weights.label)
    with init.skip_init():
        model = model_class(config.model_type)(config, dtype=dtype, backend=backend)
    load_weights(model, weights)
    return model


def from_gguf(path: str | os.PathLike, dtype: torch.dtype | None = None,
              backend: str | Backend | None = None) -> CausalLM:
    """A ttcustom model from a Llama-family GGUF file, dequantized (see `ttcustom.models.gguf`)."""
    if not is_gguf(path):
        raise CheckpointError(f"{path}: not a .gguf file")
    return from_hf(path, dtype=dtype, backend=backend)


HUB_ID = re.compile(r"[\w.-]+/[\w.-]+")
HUB_FILES = ["*.json", "*.safetensors", "tokenizer.model", "*.txt", "*.jinja"]


def resolve_model_dir(source: str | os.PathLike, allow_pickle: bool = False) -> Path:
    """A local directory as is; a Hugging Face Hub id ("ORG/NAME") that is not a local
    path is fetched with huggingface_hub (its cache first): config, safetensors and
    tokenizer files only, pickles only with `allow_pickle`."""
    path = Path(source)
    if path.exists() or not HUB_ID.fullmatch(str(source)):
        return path
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        return path
    patterns = HUB_FILES + (["pytorch_model*.bin"] if allow_pickle else [])
    try:
        return Path(snapshot_download(str(source), allow_patterns=patterns,
                                      ignore_patterns=["consolidated*"]))
    except Exception as err:
        raise CheckpointError(
            f"{source}: not a local directory, and fetching it from the Hugging Face Hub "
            f"failed ({type(err).__name__}: {err}). Pass the path of a downloaded checkpoint"
        ) from None


def read_config(directory: str | os.PathLike) -> ModelConfig:
    """The `ModelConfig` of a checkpoint directory (its config.json) or a .gguf file."""
    if is_gguf(directory):
        return gguf_weights(directory)[0]
    directory = Path(directory)
    if not directory.is_dir():
        raise CheckpointError(
            f"{directory}: no such checkpoint directory. Download the model first, e.g. "
            f"`huggingface-cli download ORG/NAME --local-dir {directory}`"
        )
    path = directory / "config.json"
    if not path.is_file():
        raise CheckpointError(f"{directory}: no config.json; a transformers checkpoint "
                              "directory holds config.json next to its weight files")
    config = ModelConfig.from_hf_dict(_read_json(path), source=str(path))
    config.name_or_path = str(directory)
    generation = directory / "generation_config.json"
    if generation.is_file():
        config.generation_config = _read_json(generation)
    return config


def _read_json(path: Path) -> Any:
    """A checkpoint's JSON file (strict: no duplicate keys, bounded nesting)."""
    try:
        return safejson.loads(path.read_bytes(), str(path), allow_nan=True)
    except safejson.JSONInputError as err:
        raise CheckpointError(str(err)) from None


# ---------------------------------------------------------------------- sources
def _from_directory(directory: Path, allow_pickle: bool) -> tuple[ModelConfig, WeightSource]:
    config = read_config(directory)
    if (directory / SAFETENSORS_INDEX).is_file():
        index = directory / SAFETENSORS_INDEX
        return config, _safetensors_weights(directory, _read_index(index), index)
    if (directory / SAFETENSORS).is_file():
        single = directory / SAFETENSORS
        return config, _safetensors_weights(directory, {single: []}, None)
    pickled = directory / PICKLE_INDEX if (directory / PICKLE_INDEX).is_file() else (
        directory / PICKLE if (directory / PICKLE).is_file() else None)
    if pickled is not None:
        if not allow_pickle:
            raise CheckpointError(
                f"{pickled}: pickle checkpoints can run code when loaded and are refused by "
                "default. Convert it to safetensors, or pass allow_pickle=True if you trust it"
            )
        files = list(_read_index(pickled)) if pickled.name.endswith(".json") else [pickled]
        return config, _pickle_weights(directory, files)
    present = sorted(p.name for p in directory.iterdir())
    raise CheckpointError(
        f"{directory}: no weights found (looked for {SAFETENSORS}, {SAFETENSORS_INDEX}, "
        f"{PICKLE}, {PICKLE_INDEX}); the directory holds {present}"
    )


def _read_index(index_path: Path) -> dict[Path, list[str]]:
    """Shard file -> tensor names, from a `*.index.json`; every shard must exist."""
    index = _read_json(index_path)
    weight_map = index.get("weight_map") if isinstance(index, dict) else None
    if not isinstance(weight_map, dict) or not all(isinstance(v, str) for v in weight_map.values()):
        raise CheckpointError(f"{index_path}: not a valid shard index (needs a \"weight_map\" "
                              "object of tensor name -> shard file name)")
    shards: dict[Path, list[str]] = {}
    for name, shard in weight_map.items():
        shards.setdefault(_shard_path(index_path, shard), []).append(name)
    for path in shards:
        if not path.is_file():
            raise CheckpointError(f"{index_path}: shard {path.name!r} listed in the index is "
                                  f"missing from {index_path.parent}")
    return shards


def _shard_path(index_path: Path, shard: str) -> Path:
    """A shard named by the index, refused unless it is a file inside its directory."""
    relative = Path(shard)
    if (not shard or relative.is_absolute() or ".." in relative.parts or "\\" in shard
            or not (index_path.parent / relative).resolve().is_relative_to(
                index_path.parent.resolve())):
        raise CheckpointError(f"{index_path}: shard name {shard!r} points outside the "
                              "checkpoint directory; an index may only name files next to it")
    return index_path.parent / relative


def _safetensors_weights(directory: Path, shards: dict[Path, list[str]],
                            index: Path | None) -> WeightSource:
    headers = {path: read_header(path) for path in shards}
    entries: dict[str, Entry] = {}
    for path, header in headers.items():
        for name, info in header.tensors.items():
            entries[name] = Entry(info.shape, info.dtype, str(path))
        absent = [n for n in shards[path] if n not in header.tensors]
        if index is not None and absent:
            raise CheckpointError(f"{index}: lists {absent[:5]} in {path.name}, but that "
                                  "shard does not contain them (mismatched shards?)")
    groups = [(header, list(header.tensors)) for header in headers.values()]
    return WeightSource(str(directory), entries, groups, iter_tensors)


def _pickle_weights(directory: Path, files: list[Path]) -> WeightSource:
    loaded = {}
    entries: dict[str, Entry] = {}
    for path in files:
        try:
            state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except Exception as err:
            raise CheckpointError(f"{path}: cannot be read as a torch checkpoint ({err})") \
                from None
        loaded[path] = state
        for name, tensor in state.items():
            entries[name] = Entry(tuple(tensor.shape), tensor.dtype, str(path))

    def read(path, names):  # copies: the model must not share the mapped file's pages
        for name in names:
            yield name, loaded[path][name].clone()

    return WeightSource(str(directory), entries, [(p, list(loaded[p])) for p in files], read)


def _from_transformers_model(model: Any) -> tuple[ModelConfig, WeightSource]:
    label = f"in-memory {type(model).__name__}"
    config = ModelConfig.from_hf_dict(model.config.to_diff_dict(), source=f"{label} config")
    config.name_or_path = getattr(model.config, "_name_or_path", None) or None
    state = model.state_dict()
    entries = {n: Entry(tuple(t.shape), t.dtype, label) for n, t in state.items()}

    def read(_, names):  # copies: the two models must not share parameters
        for name in names:
            yield name, state[name].detach().to("cpu", copy=True)

    return config, WeightSource(label, entries, [(None, list(state))], read)


# ---------------------------------------------------------------------- loading
def _listing(items: list[str], separator: str = ", ", limit: int = 12) -> str:
    shown = separator.join(items[:limit])
    return shown + (f"{separator}... and {len(items) - limit} more" if len(items) > limit else "")


def load_weights(model: CausalLM, weights: WeightSource) -> None:
    """Check names and shapes of all tensors, then copy them into `model` one by one."""
    table = model.weight_table
    own = model.state_dict(keep_vars=True)
    tied = model.config.tie_word_embeddings
    targets = table.hf_names(n for n in own if not (tied and n == "lm_head.weight"))
    by_hf = {hf: (ours, transposed) for ours, (hf, transposed) in targets.items()}
    tied_head = table.lookup("lm_head.weight")[0] if tied else None

    plan: dict[str, str] = {}  # checkpoint name -> our name
    unexpected, mismatched = [], []
    for name, entry in weights.entries.items():
        key = table.canonical(name, by_hf)
        if key not in by_hf:
            if key != tied_head and not table.is_ignored(name):
                unexpected.append(f"{name} (in {entry.location})")
            continue
        ours, transposed = by_hf[key]
        shape = entry.shape[::-1] if transposed else entry.shape
        if shape != own[ours].shape:
            want = own[ours].shape[::-1] if transposed else own[ours].shape
            mismatched.append(f"{name} in {entry.location} has shape {list(entry.shape)}, the "
                              f"config implies {list(want)}")
        plan[name] = ours
    loaded = set(plan.values())
    missing = sorted(hf for hf, (ours, _) in by_hf.items() if ours not in loaded)
    problems = []
    if mismatched:
        problems.append("shape mismatches: " + _listing(mismatched, "; "))
    if missing:
        problems.append(f"missing tensors ({len(missing)}): " + _listing(missing))
    if unexpected:
        problems.append(f"unexpected tensors ({len(unexpected)}): " + _listing(unexpected))
    if problems:
        raise CheckpointError(
            f"{weights.label}: does not match the {model.config.architecture} its config "
            "describes (are config.json and the weights from the same checkpoint?). "
            + " | ".join(problems)
        )
    floating = [e.dtype for e in weights.entries.values() if e.dtype.is_floating_point]
    if model.config.dtype is None and floating:
        model.config.dtype = str(floating[0]).removeprefix("torch.")
    for name, tensor in weights.read(set(plan)):
        target = own[plan[name]]
        host = relayout(tensor, by_hf[table.canonical(name, by_hf)][1])
        # re-home the parameter on the uploaded array (no second copy into the
        # construction zeros); tied weights are one Parameter object, so they stay tied
        target.data = target.backend.upload(host, target.dtype)


__all__ = ["CheckpointError", "ConfigError", "from_gguf", "from_hf", "load_weights", "read_config"]
