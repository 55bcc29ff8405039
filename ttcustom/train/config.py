"""The run configuration: YAML sections validated up front by pydantic.

Sections: `model`, `model_config` (from-scratch architecture), `training_config`,
`device_config`, `logging_config`, `eval_config`, `data`, `lora`. Unknown keys, wrong
types and out-of-range values are errors that name the file, the line, the key path
and what is allowed. The tt-train tutorial's keys work as written (see
`TUTORIAL_KEYS`): they are moved to their place here before validation.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ttcustom.models.config import ConfigError
from ttcustom.models.registry import model_types

Positive = Annotated[int, Field(gt=0)]
NonNegative = Annotated[int, Field(ge=0)]
PositiveFloat = Annotated[float, Field(gt=0)]
ArchitectureName = Literal[model_types()]  # the model types registered in ttcustom.models


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, protected_namespaces=(),
                              use_attribute_docstrings=True)


class ModelSection(Section):
    """A pretrained model directory, or the architecture of a from-scratch model."""

    path: str | None = None
    """A transformers model directory (e.g. TinyLlama) to fine-tune; relative to the working
    directory. Leave unset to train from scratch with `model_config`."""
    architecture: ArchitectureName = "llama"
    """Architecture of a from-scratch model (the tutorial's `model_type`)."""


class ArchitectureSection(Section):
    """`model_config`: the tutorial's from-scratch keys (Nano-Trickster by default)."""

    vocab_size: Positive = 256
    """Embedding rows; at least the tokenizer's size (256 for byte level)."""
    hidden_dim: Positive = 256
    """Width of the residual stream."""
    num_layers: Positive = 6
    """Transformer blocks."""
    num_heads: Positive = 8
    """Attention heads; must divide hidden_dim."""
    num_kv_heads: Positive | None = None
    """Key/value heads for grouped-query attention (default: num_heads)."""
    mlp_dim: Positive = 768
    """Inner width of the SwiGLU feed-forward network."""
    max_seq_len: Positive = 512
    """Longest sequence the model is built for (rotary table size)."""
    rope_theta: PositiveFloat = 10000.0
    """Rotary embedding base."""
    norm_eps: PositiveFloat = 1e-5
    """RMSNorm epsilon."""
    tie_embeddings: bool = True
    """Share the embedding matrix with the LM head."""
    dropout: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0
    """Dropout on embeddings and residual branches during training."""

    @model_validator(mode="after")
    def _heads_divide(self) -> ArchitectureSection:
        if self.hidden_dim % self.num_heads:
            raise ValueError(f"hidden_dim {self.hidden_dim} must be a multiple of num_heads "
                             f"{self.num_heads}")
        if self.num_kv_heads is not None and self.num_heads % self.num_kv_heads:
            raise ValueError(f"num_heads {self.num_heads} must be a multiple of num_kv_heads "
                             f"{self.num_kv_heads}")
        return self


class TrainingSection(Section):
    seed: int = 42
    """Seeds initialisation, dropout, data order and the validation split."""
    batch_size: Positive = 8
    """Examples per micro-batch (per device with DDP)."""
    validation_batch_size: Positive | None = None
    """Examples per validation batch (default: batch_size)."""
    max_steps: Positive | None = None
    """Optimizer steps to run; with num_epochs too, training stops at whichever comes first."""
    num_epochs: Positive | None = None
    """Passes over the training data."""
    learning_rate: PositiveFloat = 1e-4
    """Peak learning rate (after warmup)."""
    optimizer: Literal["adamw", "sgd"] = "adamw"
    """AdamW (moreh_adamw on tt) or SGD."""
    weight_decay: Annotated[float, Field(ge=0.0)] = 0.01
    """Decoupled weight decay on matrices (not on norms and biases)."""
    betas: Annotated[list[Annotated[float, Field(ge=0.0, lt=1.0)]], Field(min_length=2, max_length=2)] = [0.9, 0.999]
    """AdamW betas."""
    eps: PositiveFloat = 1e-8
    """AdamW epsilon."""
    momentum: Annotated[float, Field(ge=0.0)] = 0.0
    """SGD momentum."""
    master_weights: bool = False
    """Update bfloat16 parameters through float32 master weights and optimizer state (full-precision AdamW)."""
    use_kahan_summation: Literal[False] = False
    """Accepted for tt-train configs; Kahan summation is not implemented."""
    gradient_accumulation_steps: Positive = 1
    """Micro-batches per optimizer step (effective batch = batch_size x this)."""
    grad_clip: PositiveFloat | None = 1.0
    """Clip the global gradient norm to this value (null: no clipping)."""
    scheduler: Literal["constant", "linear", "cosine"] = "cosine"
    """Learning-rate schedule after the linear warmup."""
    warmup_steps: NonNegative = 0
    """Steps of linear warmup from 0 to learning_rate."""
    min_lr_ratio: Annotated[float, Field(ge=0.0, le=1.0)] = 0.0
    """Cosine floor as a fraction of learning_rate (0.1: 3e-4 decays to 3e-5)."""
    max_sequence_length: Positive | None = None
    """Token limit per example or block (default: the model's maximum positions)."""
    validation_frequency: Positive = 100
    """Evaluate (loss, perplexity, samples, plot) every N steps and at the end."""
    eval_batches: Positive | None = None
    """Validation batches per evaluation (default: all)."""
    checkpoint_frequency: Positive = 500
    """Save checkpoint_step_N/ every N steps (save_strategy: steps)."""
    save_strategy: Literal["steps", "epoch"] = "steps"
    """Checkpoint every checkpoint_frequency steps, or at the end of every epoch."""
    keep_last_checkpoints: Positive = 3
    """Older checkpoints are deleted once a newer one is complete."""
    checkpoint_dir: str | None = None
    """Checkpoints go to output_dir/checkpoint_dir (default: output_dir itself)."""
    early_stopping_patience: Positive | None = None
    """Stop after this many evaluations without a better validation loss."""
    early_stopping_min_delta: Annotated[float, Field(ge=0.0)] = 0.0
    """Smallest decrease of the validation loss that counts as better."""
    compile: Literal["auto", "off", "on", "capture"] = "auto"
    """Capture the training step once and replay it: `on` compiles the replay
    (torch.compile on CPU/CUDA, a ttnn trace on tt), `capture` replays the recorded
    ops as they are (bit-identical to eager), `off` runs eagerly; `auto` is `on` for
    runs of at least 1000 steps, else `off` (see the Performance guide)."""

    @field_validator("checkpoint_dir")
    @classmethod
    def _inside_the_run(cls, value: str | None) -> str | None:
        if value is not None and (not value.strip() or Path(value).is_absolute()
                                  or ".." in Path(value).parts):
            raise ValueError(f"checkpoint_dir {value!r} must be a relative path inside "
                             "output_dir (no '..', not absolute), e.g. 'checkpoints'")
        return value

    @model_validator(mode="after")
    def _has_length(self) -> TrainingSection:
        if self.max_steps is None and self.num_epochs is None:
            raise ValueError("set max_steps or num_epochs (with both, training stops at "
                             "whichever comes first)")
        return self


class DeviceSection(Section):
    backend: Literal["auto", "tt", "cpu", "cuda"] = "auto"
    """auto: tt when a card is found, else CUDA, else CPU (TTCUSTOM_BACKEND overrides auto)."""
    enable_ddp: bool = False
    """Data-parallel training (torchrun on cpu/cuda, the device mesh on tt)."""
    mesh_shape: Annotated[list[Positive], Field(min_length=2, max_length=2)] = [1, 1]
    """Device mesh rows x columns: [1, 2] for N300, [1, 8] or [2, 4] for T3K."""
    dtype: Literal["auto", "float32", "bfloat16"] = "auto"
    """Parameter dtype (auto: the backend's default, bfloat16 on tt, float32 otherwise)."""

    @model_validator(mode="after")
    def _mesh_needs_ddp(self) -> DeviceSection:
        devices = self.mesh_shape[0] * self.mesh_shape[1]
        if devices > 1 and not self.enable_ddp:
            raise ValueError(f"mesh_shape {self.mesh_shape} spans {devices} devices but "
                             "enable_ddp is false; set enable_ddp: true or mesh_shape: [1, 1]")
        return self


class LoggingSection(Section):
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    """Level of output_dir/training.log."""
    output_dir: str = "output"
    """Run directory: checkpoints, final_model/, metrics.jsonl, training_curves.png."""
    overwrite_output_dir: bool = False
    """Start a new run in an output_dir that holds another run's checkpoints (deletes them)."""
    log_every: Positive = 1
    """Read the loss back and log it every N steps (mean over those steps)."""
    progress_bar: bool = True
    """tqdm bar with loss, lr, tokens/s and ETA."""
    use_wandb: bool = False
    """Log to Weights & Biases (pip install wandb)."""
    wandb_project: str = "ttcustom"
    """wandb project name."""
    wandb_run_name: str | None = None
    """wandb run name."""
    wandb_mode: Literal["online", "offline"] = "offline"
    """offline writes under output_dir/wandb with no network (wandb sync uploads later)."""
    tensorboard: bool = False
    """Write TensorBoard scalars to output_dir/tensorboard (pip install tensorboard)."""

    @field_validator("output_dir")
    @classmethod
    def _not_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("output_dir is empty; name a run directory, e.g. 'output' "
                             "('.' for the current directory)")
        return value


class EvalSection(Section):
    """Sample generation at each evaluation (the tutorial's `eval_config`)."""

    prompts: list[str] = []
    """Prompts answered at every evaluation (printed and appended to validation.txt)."""
    max_new_tokens: Positive = 64
    """Tokens generated per sample."""
    temperature: Annotated[float, Field(ge=0.0)] = 0.0
    """0 decodes greedily (deterministic samples)."""
    top_k: Positive | None = None
    """Sample among the k most likely tokens."""
    top_p: Annotated[float, Field(gt=0.0, le=1.0)] = 1.0
    """Nucleus sampling threshold (1.0: off)."""
    repetition_penalty: Literal[1.0] = 1.0
    """Accepted for tt-train configs; only 1.0 (off) is supported."""


class TokenizerSection(Section):
    """`auto`: the model directory's tokenizer when there is one, else byte-level."""

    kind: Literal["auto", "pretrained", "byte", "char", "bpe"] = "auto"
    """pretrained: from a directory; byte: 256 ids; char: the corpus' characters; bpe: trained on the corpus."""
    path: str | None = None
    """Tokenizer directory (default: model.path)."""
    vocab_size: Positive | None = None
    """BPE vocabulary size (default: model_config.vocab_size)."""


class DataSection(Section):
    train_file: str | None = None
    """JSONL training data."""
    val_file: str | None = None
    """JSONL validation data (default: val_split of train_file, chosen by seed)."""
    corpus: str | None = None
    """Plain-text corpus for from-scratch training (split by val_split: 0.1 = 90/10)."""
    format: Literal["auto", "prompt_response", "prompt_completion", "alpaca", "chat", "text"] = "auto"
    """JSONL record format (auto: detected from the first record's fields)."""
    val_split: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.1
    """Fraction held out for validation when there is no val_file."""
    packing: bool = False
    """Pack short examples into full sequences (block-diagonal attention)."""
    train_on_prompt: bool = False
    """Also train on prompt tokens (default: loss on answers only)."""
    truncate: bool = False
    """Cut over-long examples to max_sequence_length instead of refusing them."""
    allow_duplicates: bool = False
    """Keep repeated records (warnings instead of errors)."""
    prompt_template: str | None = None
    """prompt_response template with {prompt} (default: the tutorial's ### Question / ### Answer)."""
    tokenizer: TokenizerSection = TokenizerSection()
    """Which tokenizer to use or build."""

    @model_validator(mode="after")
    def _one_source(self) -> DataSection:
        if self.train_file is not None and self.corpus is not None:
            raise ValueError("set one of train_file (JSONL) or corpus (a plain-text file), not both")
        if self.prompt_template is not None and "{prompt}" not in self.prompt_template:
            raise ValueError("prompt_template must contain '{prompt}'")
        return self


class LoraSection(Section):
    enabled: bool = True
    """Set false to switch a config's LoRA section off (e.g. with --set lora.enabled=false)."""
    r: Positive = 8
    """Rank of the adapter matrices."""
    alpha: PositiveFloat = 16.0
    """Scale: the update is multiplied by alpha / r."""
    dropout: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0
    """Dropout on the adapter input."""
    target_modules: Annotated[list[str], Field(min_length=1)] = ["q_proj", "v_proj"]
    """Linear layers to adapt, by transformers name (q_proj, v_proj, gate_proj...) or all-linear."""


class RunConfig(Section):
    model: ModelSection = ModelSection()
    architecture: ArchitectureSection | None = Field(default=None, alias="model_config")
    training_config: TrainingSection
    device_config: DeviceSection = DeviceSection()
    logging_config: LoggingSection = LoggingSection()
    eval_config: EvalSection = EvalSection()
    data: DataSection | None = None
    lora: LoraSection | None = None

    model_config = ConfigDict(extra="forbid", strict=True, protected_namespaces=(),
                              populate_by_name=True, use_attribute_docstrings=True)

    @model_validator(mode="after")
    def _one_model(self) -> RunConfig:
        if self.model.path is not None and self.architecture is not None:
            raise ValueError("give either model.path (a pretrained directory) or model_config "
                             "(a from-scratch architecture), not both")
        return self

    @property
    def lora_enabled(self) -> bool:
        return self.lora is not None and self.lora.enabled

    def to_dict(self) -> dict[str, Any]:
        """The resolved configuration (defaults filled in), as saved with every run."""
        return self.model_dump(mode="json", by_alias=True)


# --------------------------------------------------------------------------- loading
#: tt-train tutorial keys in training_config -> where they live here.
TUTORIAL_KEYS: dict[str, str] = {
    "eval_every": "training_config.validation_frequency",
    "model_save_interval": "training_config.checkpoint_frequency",
    "clip_grad_norm_max_norm": "training_config.grad_clip",
    "scheduler_type": "training_config.scheduler",
    "model_type": "model.architecture",
    "tokenizer_type": "data.tokenizer.kind",
    "model_config": "model_config",
    "log_level": "logging_config.log_level",
    "use_wandb": "logging_config.use_wandb",
    "wandb_project": "logging_config.wandb_project",
    "wandb_run_name": "logging_config.wandb_run_name",
}
_SCHEDULER_NAMES = {"identity": "constant", "warmup_linear": "linear", "warmup_cosine": "cosine"}


#: bounds on a config file: bytes, nesting, and values after expanding YAML aliases
MAX_CONFIG_BYTES = 10 * 1024 * 1024
MAX_YAML_DEPTH = 64
MAX_YAML_VALUES = 100_000


class YAMLLimitError(yaml.MarkedYAMLError):
    """A YAML document refused by the bounds below; `problem_mark` says where."""

    def __init__(self, problem: str, mark: Any) -> None:
        super().__init__(None, None, problem, mark)


class _Loader(yaml.SafeLoader):
    """SafeLoader that reads `1e-4` as a float (YAML 1.2), as people write learning rates,
    and refuses documents that are a denial of service rather than a config: recursive
    aliases, nesting deeper than MAX_YAML_DEPTH, and aliases that expand to more than
    MAX_YAML_VALUES values (the "billion laughs")."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._open: set[str] = set()  # anchors of the nodes being composed

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            if event.anchor in self._open:
                raise YAMLLimitError(f"alias *{event.anchor} is inside the node it refers to "
                                     "(a recursive alias)", event.start_mark)
            return super().compose_node(parent, index)
        anchor = getattr(event, "anchor", None)
        self._depth += 1
        if self._depth > MAX_YAML_DEPTH:
            raise YAMLLimitError(f"nested deeper than {MAX_YAML_DEPTH} levels", event.start_mark)
        if anchor is not None:
            self._open.add(anchor)
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1
            self._open.discard(anchor)


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def _expanded_size(node: yaml.Node, sizes: dict[int, int]) -> int:
    """Values `node` stands for once aliases are expanded (memoised: linear in the file)."""
    if id(node) not in sizes:
        sizes[id(node)] = 1  # placeholder; recursion was refused while composing
        children = []
        if isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = node.value
        sizes[id(node)] = 1 + sum(_expanded_size(child, sizes) for child in children)
    return sizes[id(node)]


def parse_yaml(text: str) -> tuple[yaml.Node | None, Any]:
    """(node tree, value) of one YAML document, bounded as `_Loader` says; yaml.YAMLError
    (with a problem_mark) on anything refused."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, None
        if _expanded_size(node, {}) > MAX_YAML_VALUES:
            raise YAMLLimitError(f"the YAML aliases expand to more than {MAX_YAML_VALUES} "
                                 "values (a 'billion laughs' document?); write the values out",
                                 node.start_mark)
        return node, loader.construct_document(node)
    finally:
        loader.dispose()


def parse_value(text: str) -> Any:
    """A `--set` value, read as YAML (so 3e-4 is a float and [1, 2] a list)."""
    return parse_yaml(text)[1] if text.strip() else ""


class _Source:
    """Where each key path came from, to point errors at a line."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.where: dict[tuple, str] = {}

    def locate(self, path: tuple) -> str:
        for end in range(len(path), -1, -1):
            if path[:end] in self.where:
                return self.where[path[:end]]
        return self.name


def _walk(node: yaml.Node, path: tuple, source: _Source, problems: list[str]) -> None:
    source.where[path] = f"{source.name}:{node.start_mark.line + 1}"
    if isinstance(node, yaml.MappingNode):
        seen: set = set()
        for key_node, value_node in node.value:
            key = key_node.value
            child = (*path, key)
            if key in seen:
                problems.append(f"{source.name}:{key_node.start_mark.line + 1}: "
                                f"{_dotted(child)}: duplicate key")
            seen.add(key)
            _walk(value_node, child, source, problems)
            source.where[child] = f"{source.name}:{key_node.start_mark.line + 1}"
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, (*path, i), source, problems)


def _dotted(path: Iterable) -> str:
    return ".".join(str(p) for p in path) or "(top level)"


def _read_yaml(path: Path, source: _Source, problems: list[str]) -> dict:
    try:
        if path.stat().st_size > MAX_CONFIG_BYTES:
            raise ConfigError([f"{path}: {path.stat().st_size} bytes is too large for a run "
                               f"config (limit {MAX_CONFIG_BYTES >> 20} MiB)"])
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError([f"{path}: cannot read config ({err.strerror})"]) from None
    except UnicodeDecodeError as err:
        raise ConfigError([f"{path}: not UTF-8 text (byte {err.start}); save the config as "
                           "UTF-8"]) from None
    try:
        node, data = parse_yaml(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise ConfigError([f"{path}{line}: not valid YAML: {getattr(err, 'problem', err)}"]) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError([f"{path}:1: the config must be a mapping of sections, got "
                           f"{type(data).__name__}"])
    if node is not None:
        _walk(node, (), source, problems)
    return data


def _get(data: dict, path: tuple) -> Any:
    for key in path:
        data = data[key]
    return data


def _set(data: dict, path: tuple, value: Any) -> None:
    for key in path[:-1]:
        child = data.get(key)
        if not isinstance(child, dict):
            child = data[key] = {}
        data = child
    data[path[-1]] = value


def _apply_overrides(data: dict, overrides: Iterable[str], source: _Source,
                     problems: list[str]) -> None:
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            problems.append(f"--set {item}: expected KEY.PATH=VALUE, e.g. "
                            "training_config.learning_rate=3e-4")
            continue
        path = tuple(key.strip().split("."))
        if not all(part.strip() for part in path):
            problems.append(f"--set {item}: {key.strip()!r} has an empty part; write the key "
                            "path with single dots, e.g. training_config.learning_rate=3e-4")
            continue
        try:
            parsed = parse_value(value)
        except yaml.YAMLError as err:
            problems.append(f"--set {item}: the value is not valid YAML "
                            f"({getattr(err, 'problem', None) or err}); quote it, e.g. "
                            f"--set '{key.strip()}=\"...\"'")
            continue
        _set(data, path, parsed)
        source.where[path] = f"--set {key.strip()}"


def _relocate_tutorial_keys(data: dict, base: Path, source: _Source, problems: list[str]) -> None:
    training = data.get("training_config")
    if not isinstance(training, dict):
        return
    if training.get("use_moreh_adamw") is True:
        training.setdefault("optimizer", "adamw")
    training.pop("use_moreh_adamw", None)
    if training.pop("use_clip_grad_norm", True) is False:
        training["grad_clip"] = None
        training.pop("clip_grad_norm_max_norm", None)
    for key, target in TUTORIAL_KEYS.items():
        if key not in training:
            continue
        origin = ("training_config", key)
        value = training.pop(key)
        if key == "scheduler_type":
            value = _SCHEDULER_NAMES.get(value, value)
        if key == "model_config" and isinstance(value, str):
            value = _read_model_config_file(base / value, source, problems)
        path = tuple(target.split("."))
        try:
            existing = _get(data, path)
        except (KeyError, TypeError):
            existing = None
        if existing is not None and existing != value:
            problems.append(f"{source.locate(origin)}: training_config.{key}: sets {target} to "
                            f"{value!r}, which is also set to {existing!r}; keep one")
            continue
        _set(data, path, value)
        source.where.setdefault(path, source.locate(origin))


def _read_model_config_file(path: Path, source: _Source, problems: list[str]) -> Any:
    """A model_config kept in its own YAML file (the mapping itself or under `model_config`)."""
    inner = _Source(str(path))
    data = _read_yaml(path, inner, problems)
    nested = "model_config" in data
    for key, where in inner.where.items():
        if not nested or key[:1] == ("model_config",):
            source.where[("model_config", *key[1:]) if nested else ("model_config", *key)] = where
    return data["model_config"] if nested else data


def load_config(path: str | Path | None = None, overrides: Iterable[str] = (),
                data: dict | None = None) -> RunConfig:
    """Validate a YAML file (or a dict) plus `--set` overrides into a RunConfig.

    Raises ConfigError listing every problem with its file:line and key path.
    """
    problems: list[str] = []
    if path is not None:
        path = Path(path)
        source = _Source(str(path))
        data = _read_yaml(path, source, problems)
        base = path.parent
    else:
        source = _Source("<config>")
        data = dict(data or {})
        base = Path.cwd()
    _apply_overrides(data, overrides, source, problems)
    _relocate_tutorial_keys(data, base, source, problems)
    try:
        config = RunConfig.model_validate(data)
    except ValidationError as err:
        problems += [_explain(error, source) for error in err.errors()]
        config = None
    if problems:
        raise ConfigError(problems)
    return config


def _explain(error: dict, source: _Source) -> str:
    loc = tuple(error["loc"])
    where = source.locate(loc)
    kind = error["type"]
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1])
        hint = difflib.get_close_matches(str(loc[-1]), allowed, n=1, cutoff=0.75)
        suggestion = f"; did you mean {hint[0]!r}?" if hint else ""
        return (f"{where}: {_dotted(loc)}: unknown key{suggestion} "
                f"(allowed: {', '.join(allowed)})")
    if kind == "missing":
        return f"{where}: {_dotted(loc)}: required key is missing"
    message = error["msg"].removeprefix("Value error, ")
    got = "" if kind == "value_error" else f" (got {error['input']!r})"
    return f"{where}: {_dotted(loc)}: {message}{got}"


def _allowed_keys(loc: tuple) -> list[str]:
    """Keys of the section at `loc` (walking the schema, through optional sections)."""
    model: Any = RunConfig
    for key in loc:
        fields = {(f.alias or name): f for name, f in model.model_fields.items()}
        if key not in fields:
            return []
        model = _section_type(fields[key].annotation)
        if model is None:
            return []
    return sorted((f.alias or name) for name, f in model.model_fields.items())


def _section_type(annotation: Any) -> type[Section] | None:
    if isinstance(annotation, type) and issubclass(annotation, Section):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _section_type(arg)
        if found is not None:
            return found
    return None


def save_config(config: RunConfig, path: str | Path) -> None:
    """Write the resolved config as YAML (loadable again with `load_config`)."""
    Path(path).write_text(yaml.safe_dump(config.to_dict(), sort_keys=False), encoding="utf-8")
