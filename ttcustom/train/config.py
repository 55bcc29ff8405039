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
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

Positive = Annotated[int, Field(gt=0)]
NonNegative = Annotated[int, Field(ge=0)]
PositiveFloat = Annotated[float, Field(gt=0)]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, protected_namespaces=())


class ModelSection(Section):
    """A pretrained model directory, or the architecture of a from-scratch model."""

    path: str | None = None
    architecture: Literal["llama", "qwen2", "qwen3", "gpt2"] = "llama"


class ArchitectureSection(Section):
    """`model_config`: the tutorial's from-scratch keys (Nano-Trickster by default)."""

    vocab_size: Positive = 256
    hidden_dim: Positive = 256
    num_layers: Positive = 6
    num_heads: Positive = 8
    num_kv_heads: Positive | None = None
    mlp_dim: Positive = 768
    max_seq_len: Positive = 512
    rope_theta: PositiveFloat = 10000.0
    norm_eps: PositiveFloat = 1e-5
    tie_embeddings: bool = True
    dropout: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0

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
    batch_size: Positive = 8
    validation_batch_size: Positive | None = None
    max_steps: Positive | None = None
    num_epochs: Positive | None = None
    learning_rate: PositiveFloat = 1e-4
    optimizer: Literal["adamw", "sgd"] = "adamw"
    weight_decay: Annotated[float, Field(ge=0.0)] = 0.01
    betas: Annotated[list[Annotated[float, Field(ge=0.0, lt=1.0)]], Field(min_length=2, max_length=2)] = [0.9, 0.999]
    eps: PositiveFloat = 1e-8
    momentum: Annotated[float, Field(ge=0.0)] = 0.0
    use_kahan_summation: Literal[False] = False
    gradient_accumulation_steps: Positive = 1
    grad_clip: PositiveFloat | None = 1.0
    scheduler: Literal["constant", "linear", "cosine"] = "cosine"
    warmup_steps: NonNegative = 0
    min_lr_ratio: Annotated[float, Field(ge=0.0, le=1.0)] = 0.0
    max_sequence_length: Positive | None = None
    validation_frequency: Positive = 100
    eval_batches: Positive | None = None
    checkpoint_frequency: Positive = 500
    save_strategy: Literal["steps", "epoch"] = "steps"
    keep_last_checkpoints: Positive = 3
    checkpoint_dir: str | None = None
    early_stopping_patience: Positive | None = None
    early_stopping_min_delta: Annotated[float, Field(ge=0.0)] = 0.0

    @model_validator(mode="after")
    def _has_length(self) -> TrainingSection:
        if self.max_steps is None and self.num_epochs is None:
            raise ValueError("set max_steps or num_epochs (with both, training stops at "
                             "whichever comes first)")
        return self


class DeviceSection(Section):
    backend: Literal["auto", "tt", "cpu", "cuda"] = "auto"
    enable_ddp: bool = False
    mesh_shape: Annotated[list[Positive], Field(min_length=2, max_length=2)] = [1, 1]
    dtype: Literal["auto", "float32", "bfloat16"] = "auto"

    @model_validator(mode="after")
    def _mesh_needs_ddp(self) -> DeviceSection:
        devices = self.mesh_shape[0] * self.mesh_shape[1]
        if devices > 1 and not self.enable_ddp:
            raise ValueError(f"mesh_shape {self.mesh_shape} spans {devices} devices but "
                             "enable_ddp is false; set enable_ddp: true or mesh_shape: [1, 1]")
        return self


class LoggingSection(Section):
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    output_dir: str = "output"
    log_every: Positive = 1
    progress_bar: bool = True
    use_wandb: bool = False
    wandb_project: str = "ttcustom"
    wandb_run_name: str | None = None
    wandb_mode: Literal["online", "offline"] = "offline"
    tensorboard: bool = False


class EvalSection(Section):
    """Sample generation at each evaluation (the tutorial's `eval_config`)."""

    prompts: list[str] = []
    max_new_tokens: Positive = 64
    temperature: Annotated[float, Field(ge=0.0)] = 0.0
    top_k: Positive | None = None
    top_p: Annotated[float, Field(gt=0.0, le=1.0)] = 1.0
    repetition_penalty: Literal[1.0] = 1.0


class TokenizerSection(Section):
    """`auto`: the model directory's tokenizer when there is one, else byte-level."""

    kind: Literal["auto", "pretrained", "byte", "char", "bpe"] = "auto"
    path: str | None = None
    vocab_size: Positive | None = None


class DataSection(Section):
    train_file: str | None = None
    val_file: str | None = None
    corpus: str | None = None
    format: Literal["auto", "prompt_response", "prompt_completion", "alpaca", "chat", "text"] = "auto"
    val_split: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.1
    packing: bool = False
    train_on_prompt: bool = False
    truncate: bool = False
    allow_duplicates: bool = False
    prompt_template: str | None = None
    tokenizer: TokenizerSection = TokenizerSection()

    @model_validator(mode="after")
    def _one_source(self) -> DataSection:
        if self.train_file is not None and self.corpus is not None:
            raise ValueError("set one of train_file (JSONL) or corpus (a plain-text file), not both")
        if self.prompt_template is not None and "{prompt}" not in self.prompt_template:
            raise ValueError("prompt_template must contain '{prompt}'")
        return self


class LoraSection(Section):
    enabled: bool = True
    r: Positive = 8
    alpha: PositiveFloat = 16.0
    dropout: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0
    target_modules: Annotated[list[str], Field(min_length=1)] = ["q_proj", "v_proj"]


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
                              populate_by_name=True)

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
class ConfigError(ValueError):
    """Every problem in a config, one per line: `file:line: key.path: message`."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid config:\n  " + "\n  ".join(problems))


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


class _Loader(yaml.SafeLoader):
    """SafeLoader that reads `1e-4` as a float (YAML 1.2), as people write learning rates."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def parse_value(text: str) -> Any:
    """A `--set` value, read as YAML (so 3e-4 is a float and [1, 2] a list)."""
    return yaml.load(text, Loader=_Loader) if text.strip() else ""


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
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError([f"{path}: cannot read config ({err.strerror})"]) from None
    try:
        node = yaml.compose(text, Loader=_Loader)
        data = yaml.load(text, Loader=_Loader)
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
        _set(data, path, parse_value(value))
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
