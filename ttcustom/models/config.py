"""`ModelConfig`: one dataclass for every supported architecture, read from / written to HF.

Fields use transformers' names where the families agree (GPT-2's `n_embd` is
`hidden_size` here, its `layer_norm_epsilon` and Llama's `rms_norm_eps` are `norm_eps`).
What is fixed per architecture (norm kind, MLP kind, positions, fused q/k/v, the
config.json keys) lives in its registered `Architecture` (`models/architecture.py`), not
in the config.

`to_hf_dict()` starts from the config.json the model was loaded from (kept in
`hf_source`) and rewrites only the keys of fields that changed, so a loaded config round
trips exactly and unknown keys survive.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from ttcustom.models.architecture import Architecture, Family, registered
from ttcustom.nn.transformer import ROPE_TYPES

# hidden_act -> gelu approximation; the gated MLP takes only silu
GELU_ACTS = {"gelu_new": "tanh", "gelu_pytorch_tanh": "tanh", "gelu_fast": "tanh", "gelu": "none"}


class ConfigError(ValueError):
    """A config the library cannot use, the one `except ConfigError` catches: a model's
    config.json (one message saying which key) or a run config (`problems`, one per
    line: `file:line: key.path: message`)."""

    def __init__(self, message: str | list[str]) -> None:
        self.problems = [message] if isinstance(message, str) else list(message)
        super().__init__(message if isinstance(message, str)
                         else "invalid config:\n  " + "\n  ".join(message))


def get_architecture(model_type: str) -> Architecture:
    """The registered `Architecture` of `model_type`."""
    architectures = registered()
    if model_type not in architectures:
        raise ConfigError(f"model_type {model_type!r} is not supported; supported: "
                          f"{sorted(architectures)}")
    return architectures[model_type]


@dataclass
class ModelConfig:
    """Hyper-parameters of a decoder-only language model (HF-like names)."""

    model_type: str = "llama"
    vocab_size: int = 32000
    hidden_size: int = 2048
    intermediate_size: int | None = None
    num_hidden_layers: int = 22
    num_attention_heads: int = 32
    num_key_value_heads: int | None = None
    head_dim: int | None = None
    max_position_embeddings: int = 2048
    hidden_act: str | None = None
    norm_eps: float = 1e-5
    rope_theta: float = 10000.0
    rope_scaling: dict | None = None
    attention_bias: bool = False
    mlp_bias: bool = False
    tie_word_embeddings: bool = False
    sliding_window: int | None = None
    hidden_dropout: float = 0.0
    embedding_dropout: float = 0.0
    attention_dropout: float = 0.0
    initializer_range: float = 0.02
    bos_token_id: int | None = None
    eos_token_id: int | list[int] | None = None
    pad_token_id: int | None = None
    dtype: str | None = None  # dtype of the source checkpoint; export writes this by default
    hf_source: dict = field(default_factory=dict, repr=False, compare=False)
    # where the model was loaded from (tokenizer files, PEFT base name) and its
    # generation_config.json, both written back on export
    name_or_path: str | None = field(default=None, repr=False, compare=False)
    generation_config: dict | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        family = get_architecture(self.model_type).family
        _check_types(self)
        if self.hidden_act is None:
            self.hidden_act = "silu" if family.mlp == "gated" else "gelu_new"
        if self.num_key_value_heads is None:
            self.num_key_value_heads = self.num_attention_heads
        if self.head_dim is None:
            self.head_dim = self.hidden_size // self.num_attention_heads
        if self.intermediate_size is None:
            if family.mlp == "gated":
                raise ConfigError(f"{self.model_type}: intermediate_size is required")
            self.intermediate_size = 4 * self.hidden_size
        if self.rope_scaling is not None:
            if not isinstance(self.rope_scaling, dict):
                raise ConfigError(f"rope_scaling must be an object (or null), got "
                                  f"{self.rope_scaling!r}")
            self.rope_scaling = _normalise_rope_scaling(self.rope_scaling, self)
        self._validate()

    @property
    def spec(self) -> Architecture:
        """The registered `Architecture` of this model type."""
        return get_architecture(self.model_type)

    @property
    def family(self) -> Family:
        return self.spec.family

    @property
    def training_length_limit(self) -> int | None:
        """Longest sequence to train on: max_position_embeddings, except with dynamic
        (NTK) rope scaling, which recomputes the rotary base for longer sequences."""
        dynamic = (self.rope_scaling or {}).get("rope_type") == "dynamic"
        return None if dynamic else self.max_position_embeddings

    @property
    def architecture(self) -> str:
        """The transformers class name written to config.json's `architectures`."""
        return self.spec.hf_class

    def _validate(self) -> None:
        family = self.family
        if family.mlp == "gated" and self.hidden_act != "silu":
            raise ConfigError(f"{self.model_type}: hidden_act {self.hidden_act!r} is not "
                              "supported; the gated MLP supports 'silu'")
        if family.mlp == "gelu" and self.hidden_act not in GELU_ACTS:
            raise ConfigError(f"{self.model_type}: activation {self.hidden_act!r} is not "
                              f"supported; choose one of {sorted(GELU_ACTS)}")
        if self.num_attention_heads % self.num_key_value_heads:
            raise ConfigError(
                f"num_attention_heads={self.num_attention_heads} must be a multiple of "
                f"num_key_value_heads={self.num_key_value_heads}"
            )
        if family.fused_qkv and self.head_dim * self.num_attention_heads != self.hidden_size:
            raise ConfigError(f"{self.model_type}: hidden_size must equal heads * head_dim")
        if self.rope_scaling is not None:
            _check_rope_scaling(self.rope_scaling)

    # ------------------------------------------------------------------ HF conversion
    @classmethod
    def from_hf_dict(cls, hf: dict[str, Any], source: str = "config.json") -> ModelConfig:
        """Parse a transformers config dict; `source` names it in error messages."""
        if not isinstance(hf, dict):
            raise ConfigError(f"{source}: a config.json must hold a JSON object of settings, "
                              f"got a {type(hf).__name__}")
        model_type = hf.get("model_type")
        architectures = registered()
        if model_type not in architectures:
            known = ", ".join(f"{k} ({a.hf_class})" for k, a in architectures.items())
            raise ConfigError(
                f"{source}: model_type {model_type!r} (architectures "
                f"{hf.get('architectures')}) is not supported; supported: {known}"
            )
        try:
            values = _common_from_hf(hf, source) | architectures[model_type].config_from_hf(
                hf, source)
            return cls(model_type=model_type, hf_source=dict(hf), **values)
        except ConfigError as err:
            message = str(err)
            raise ConfigError(message if message.startswith(source) else f"{source}: {message}") \
                from None

    def to_hf_dict(self) -> dict[str, Any]:
        """A transformers config dict for this model (see the module docstring)."""
        encoded = _common_to_hf(self) | self.spec.config_to_hf(self)
        out: dict[str, Any] = {}
        if self.hf_source:
            out.update(self.hf_source)
            original = ModelConfig.from_hf_dict(self.hf_source)
            changed = [f.name for f in dataclasses.fields(self) if f.compare
                       and getattr(self, f.name) != getattr(original, f.name)]
        else:
            changed = list(encoded)
        for name in changed:
            out.update(encoded.get(name, {}))
        # both rope layouts, always: a transformers-5 source has only `rope_parameters`,
        # and transformers 4 (vLLM, Tenstorrent's fork) would read theta 10000 without these
        out.update(encoded.get("rope_theta", {}))
        out["architectures"] = [self.architecture]
        out["model_type"] = self.model_type
        if self.dtype is not None:
            # transformers >= 4.56 reads `dtype`; older readers (and vLLM on them) `torch_dtype`
            out["dtype"] = out["torch_dtype"] = self.dtype
        return out

    def replace(self, **changes: Any) -> ModelConfig:
        """A copy with some fields changed (keeps `hf_source`)."""
        return dataclasses.replace(self, **changes)


# ---------------------------------------------------------------------- checks
_POSITIVE_INTS = ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                  "max_position_embeddings")
_OPTIONAL_POSITIVE_INTS = ("intermediate_size", "num_key_value_heads", "head_dim",
                           "sliding_window")
_POSITIVE_FLOATS = ("norm_eps", "rope_theta")
_FRACTIONS = ("hidden_dropout", "embedding_dropout", "attention_dropout")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) \
        and math.isfinite(value)


def _check_types(c: ModelConfig) -> None:
    """Sizes are positive integers, rates finite numbers: before anything divides by
    them or allocates with them (a string, a float such as 1e6, 0 or -1 is refused)."""
    for name in _POSITIVE_INTS + _OPTIONAL_POSITIVE_INTS:
        value = getattr(c, name)
        if (value is not None or name in _POSITIVE_INTS) and not (_is_int(value) and value > 0):
            raise ConfigError(f"{name} must be a positive integer, got {value!r}")
    for name in _POSITIVE_FLOATS:
        value = getattr(c, name)
        if not (_is_real(value) and value > 0):
            raise ConfigError(f"{name} must be a positive number, got {value!r}")
    for name in _FRACTIONS:
        value = getattr(c, name)
        if not (_is_real(value) and 0 <= value < 1):
            raise ConfigError(f"{name} must be a number in [0, 1), got {value!r}")


#: keys each rope type needs (positive numbers)
_ROPE_KEYS = {"linear": ("factor",), "dynamic": ("factor",),
              "llama3": ("factor", "low_freq_factor", "high_freq_factor",
                         "original_max_position_embeddings")}


def _check_rope_scaling(scaling: dict) -> None:
    rope_type = scaling["rope_type"]
    for key in _ROPE_KEYS.get(rope_type, ()):
        value = scaling.get(key)
        if not (_is_real(value) and value > 0):
            raise ConfigError(f"rope_scaling ({rope_type}) needs {key} as a positive number, "
                              f"got {value!r}")
    if rope_type == "llama3" and scaling["high_freq_factor"] <= scaling["low_freq_factor"]:
        raise ConfigError("rope_scaling (llama3): high_freq_factor must be larger than "
                          "low_freq_factor")


# ---------------------------------------------------------------------- decoding
def required_key(hf: dict, key: str, source: str) -> Any:
    """`hf[key]`, which a config.json of this architecture must have."""
    if hf.get(key) is None:
        raise ConfigError(f"{source}: required key {key!r} is missing")
    return hf[key]


def _normalise_rope_scaling(scaling: dict, config: ModelConfig) -> dict | None:
    scaling = {k: v for k, v in scaling.items() if k != "rope_theta"}
    rope_type = scaling.pop("type", None) or scaling.get("rope_type", "default")
    scaling["rope_type"] = rope_type
    if rope_type == "default":
        return None
    if rope_type not in ROPE_TYPES:
        raise ConfigError(f"rope type {rope_type!r} is not supported; supported: {ROPE_TYPES}")
    if rope_type == "llama3":
        scaling.setdefault("original_max_position_embeddings", config.max_position_embeddings)
    partial = scaling.pop("partial_rotary_factor", 1.0)
    if partial != 1.0:
        raise ConfigError(f"partial_rotary_factor={partial} is not supported")
    return scaling


def _common_from_hf(hf: dict, source: str) -> dict[str, Any]:
    """The fields whose config.json key and default every architecture shares."""
    return dict(
        vocab_size=required_key(hf, "vocab_size", source),
        initializer_range=hf.get("initializer_range", 0.02),
        pad_token_id=hf.get("pad_token_id"),
        dtype=hf.get("dtype") or hf.get("torch_dtype"),
    )


# ---------------------------------------------------------------------- encoding
def _common_to_hf(c: ModelConfig) -> dict[str, dict[str, Any]]:
    """For the fields whose config.json key every architecture shares, those keys."""
    return {
        "vocab_size": {"vocab_size": c.vocab_size},
        "tie_word_embeddings": {"tie_word_embeddings": c.tie_word_embeddings},
        "initializer_range": {"initializer_range": c.initializer_range},
        "bos_token_id": {"bos_token_id": c.bos_token_id},
        "eos_token_id": {"eos_token_id": c.eos_token_id},
        "pad_token_id": {"pad_token_id": c.pad_token_id},
    }


__all__ = ["GELU_ACTS", "ConfigError", "ModelConfig", "get_architecture", "required_key"]
