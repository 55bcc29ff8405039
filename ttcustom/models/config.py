"""`ModelConfig`: one dataclass for every supported architecture, read from / written to HF.

Fields use transformers' names where the families agree (GPT-2's `n_embd` is
`hidden_size` here, its `layer_norm_epsilon` and Llama's `rms_norm_eps` are `norm_eps`).
What is fixed per architecture (norm kind, MLP kind, positions, fused q/k/v) lives in
`FAMILIES`, not in the config.

`to_hf_dict()` starts from the config.json the model was loaded from (kept in
`hf_source`) and rewrites only the keys of fields that changed, so a loaded config round
trips exactly and unknown keys survive.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from ttcustom.nn.transformer import ROPE_TYPES


@dataclass(frozen=True)
class Family:
    """What an architecture fixes: transformers class, norm, MLP, positions, projections."""

    hf_class: str
    norm: str  # "rms" or "layer"
    mlp: str  # "gated" (SwiGLU) or "gelu"
    positions: str  # "rotary" or "learned"
    fused_qkv: bool = False  # one q/k/v projection (GPT-2 c_attn)
    qkv_bias: bool = False  # q/k/v always have a bias (Qwen2)
    all_bias: bool = False  # every linear and norm has a bias (GPT-2)
    qk_norm: bool = False  # RMSNorm of q and k per head (Qwen3)


FAMILIES: dict[str, Family] = {
    "llama": Family("LlamaForCausalLM", "rms", "gated", "rotary"),
    "mistral": Family("MistralForCausalLM", "rms", "gated", "rotary"),
    "qwen2": Family("Qwen2ForCausalLM", "rms", "gated", "rotary", qkv_bias=True),
    "qwen3": Family("Qwen3ForCausalLM", "rms", "gated", "rotary", qk_norm=True),
    "gpt2": Family("GPT2LMHeadModel", "layer", "gelu", "learned", fused_qkv=True, all_bias=True),
}

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
        if self.model_type not in FAMILIES:
            raise ConfigError(
                f"model_type {self.model_type!r} is not supported; supported: {sorted(FAMILIES)}"
            )
        _check_types(self)
        family = self.family
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
    def family(self) -> Family:
        return FAMILIES[self.model_type]

    @property
    def training_length_limit(self) -> int | None:
        """Longest sequence to train on: max_position_embeddings, except with dynamic
        (NTK) rope scaling, which recomputes the rotary base for longer sequences."""
        dynamic = (self.rope_scaling or {}).get("rope_type") == "dynamic"
        return None if dynamic else self.max_position_embeddings

    @property
    def architecture(self) -> str:
        """The transformers class name written to config.json's `architectures`."""
        return self.family.hf_class

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
        if model_type not in FAMILIES:
            known = ", ".join(f"{k} ({f.hf_class})" for k, f in FAMILIES.items())
            raise ConfigError(
                f"{source}: model_type {model_type!r} (architectures "
                f"{hf.get('architectures')}) is not supported; supported: {known}"
            )
        decode = _decode_gpt2 if model_type == "gpt2" else _decode_llama_family
        try:
            values = decode(hf, source)
            return cls(model_type=model_type, hf_source=dict(hf), **values)
        except ConfigError as err:
            message = str(err)
            raise ConfigError(message if message.startswith(source) else f"{source}: {message}") \
                from None

    def to_hf_dict(self) -> dict[str, Any]:
        """A transformers config dict for this model (see the module docstring)."""
        encoded = _encode(self)
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
def _required(hf: dict, key: str, source: str) -> Any:
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


def _rope_from_hf(hf: dict) -> tuple[float, dict | None]:
    """(rope_theta, rope_scaling) from either layout: transformers 5 `rope_parameters` or
    the older `rope_theta` + `rope_scaling` keys (the latter wins, as in transformers)."""
    raw = hf.get("rope_scaling") or hf.get("rope_parameters") or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"rope_scaling must be an object (or null), got {raw!r}")
    params = dict(raw)
    theta = params.pop("rope_theta", None)
    for fallback in (hf.get("rope_theta"), 10000.0):  # 0 is a value (refused later), not unset
        theta = fallback if theta is None else theta
    partial = hf.get("partial_rotary_factor")
    if partial not in (None, 1.0):
        params["partial_rotary_factor"] = partial
    return (float(theta) if _is_real(theta) else theta), (params or None)


def _decode_llama_family(hf: dict, source: str) -> dict[str, Any]:
    model_type = hf["model_type"]
    if model_type in ("qwen2", "qwen3") and hf.get("use_sliding_window"):
        raise ConfigError(f"{source}: use_sliding_window=true is not supported; set it to false")
    theta, scaling = _rope_from_hf(hf)
    defaults = _HF_DEFAULTS[model_type]
    values = dict(
        vocab_size=_required(hf, "vocab_size", source),
        hidden_size=_required(hf, "hidden_size", source),
        intermediate_size=_required(hf, "intermediate_size", source),
        num_hidden_layers=_required(hf, "num_hidden_layers", source),
        num_attention_heads=_required(hf, "num_attention_heads", source),
        num_key_value_heads=hf.get("num_key_value_heads"),
        head_dim=hf.get("head_dim") or (128 if model_type == "qwen3" else None),
        max_position_embeddings=hf.get("max_position_embeddings",
                                       defaults["max_position_embeddings"]),
        hidden_act=hf.get("hidden_act", "silu"),
        norm_eps=hf.get("rms_norm_eps", 1e-6),
        rope_theta=theta,
        rope_scaling=scaling,
        attention_bias=bool(hf.get("attention_bias", False)),
        mlp_bias=bool(hf.get("mlp_bias", False)),
        tie_word_embeddings=bool(hf.get("tie_word_embeddings", False)),
        sliding_window=None if model_type in ("llama", "qwen2", "qwen3")
        else hf.get("sliding_window", defaults.get("sliding_window")),
        attention_dropout=float(hf.get("attention_dropout", 0.0)),
        initializer_range=hf.get("initializer_range", 0.02),
        bos_token_id=hf.get("bos_token_id", defaults.get("bos_token_id")),
        eos_token_id=hf.get("eos_token_id", defaults.get("eos_token_id")),
        pad_token_id=hf.get("pad_token_id"),
        dtype=hf.get("dtype") or hf.get("torch_dtype"),
    )
    if hf.get("pretraining_tp", 1) not in (None, 1):
        raise ConfigError(f"{source}: pretraining_tp={hf['pretraining_tp']} is not supported")
    return values


# transformers' defaults for keys a config.json may leave out
_HF_DEFAULTS: dict[str, dict[str, Any]] = {
    "llama": {"max_position_embeddings": 2048, "bos_token_id": 1, "eos_token_id": 2},
    "mistral": {"max_position_embeddings": 131072, "bos_token_id": 1, "eos_token_id": 2,
                "sliding_window": 4096},
    "qwen2": {"max_position_embeddings": 32768},
    "qwen3": {"max_position_embeddings": 32768},
}


def _decode_gpt2(hf: dict, source: str) -> dict[str, Any]:
    unsupported = {"scale_attn_weights": True, "scale_attn_by_inverse_layer_idx": False,
                   "add_cross_attention": False}
    for key, expected in unsupported.items():
        if hf.get(key, expected) != expected:
            raise ConfigError(f"{source}: {key}={hf[key]} is not supported (expected {expected})")
    return dict(
        vocab_size=_required(hf, "vocab_size", source),
        hidden_size=_required(hf, "n_embd", source),
        intermediate_size=hf.get("n_inner"),
        num_hidden_layers=_required(hf, "n_layer", source),
        num_attention_heads=_required(hf, "n_head", source),
        max_position_embeddings=hf.get("n_positions", 1024),
        hidden_act=hf.get("activation_function", "gelu_new"),
        norm_eps=hf.get("layer_norm_epsilon", 1e-5),
        tie_word_embeddings=bool(hf.get("tie_word_embeddings", True)),
        hidden_dropout=float(hf.get("resid_pdrop", 0.1)),
        embedding_dropout=float(hf.get("embd_pdrop", 0.1)),
        attention_dropout=float(hf.get("attn_pdrop", 0.1)),
        initializer_range=hf.get("initializer_range", 0.02),
        bos_token_id=hf.get("bos_token_id", 50256),
        eos_token_id=hf.get("eos_token_id", 50256),
        pad_token_id=hf.get("pad_token_id"),
        dtype=hf.get("dtype") or hf.get("torch_dtype"),
    )


# ---------------------------------------------------------------------- encoding
def _encode(config: ModelConfig) -> dict[str, dict[str, Any]]:
    """For each field, the HF keys (and values) that express it."""
    c = config
    common = {
        "vocab_size": {"vocab_size": c.vocab_size},
        "tie_word_embeddings": {"tie_word_embeddings": c.tie_word_embeddings},
        "initializer_range": {"initializer_range": c.initializer_range},
        "bos_token_id": {"bos_token_id": c.bos_token_id},
        "eos_token_id": {"eos_token_id": c.eos_token_id},
        "pad_token_id": {"pad_token_id": c.pad_token_id},
    }
    if c.model_type == "gpt2":
        return common | {
            "hidden_size": {"n_embd": c.hidden_size},
            "intermediate_size": {"n_inner": c.intermediate_size},
            "num_hidden_layers": {"n_layer": c.num_hidden_layers},
            "num_attention_heads": {"n_head": c.num_attention_heads},
            "max_position_embeddings": {"n_positions": c.max_position_embeddings},
            "hidden_act": {"activation_function": c.hidden_act},
            "norm_eps": {"layer_norm_epsilon": c.norm_eps},
            "hidden_dropout": {"resid_pdrop": c.hidden_dropout},
            "embedding_dropout": {"embd_pdrop": c.embedding_dropout},
            "attention_dropout": {"attn_pdrop": c.attention_dropout},
        }
    rope = _encode_rope(c)
    encoded = common | {
        "hidden_size": {"hidden_size": c.hidden_size},
        "intermediate_size": {"intermediate_size": c.intermediate_size},
        "num_hidden_layers": {"num_hidden_layers": c.num_hidden_layers},
        "num_attention_heads": {"num_attention_heads": c.num_attention_heads},
        "num_key_value_heads": {"num_key_value_heads": c.num_key_value_heads},
        "head_dim": {"head_dim": c.head_dim},
        "max_position_embeddings": {"max_position_embeddings": c.max_position_embeddings},
        "hidden_act": {"hidden_act": c.hidden_act},
        "norm_eps": {"rms_norm_eps": c.norm_eps},
        "rope_theta": rope,
        "rope_scaling": rope,
        "attention_dropout": {"attention_dropout": c.attention_dropout},
    }
    if c.model_type in ("llama", "qwen3"):
        encoded["attention_bias"] = {"attention_bias": c.attention_bias}
    if c.model_type == "llama":
        encoded["mlp_bias"] = {"mlp_bias": c.mlp_bias}
    if c.model_type == "mistral":
        encoded["sliding_window"] = {"sliding_window": c.sliding_window}
    if c.model_type in ("qwen2", "qwen3"):
        encoded["sliding_window"] = {"use_sliding_window": False, "sliding_window": None}
    return encoded


def _encode_rope(c: ModelConfig) -> dict[str, Any]:
    """Both layouts: `rope_theta` + `rope_scaling` (transformers 4.x, vLLM) and
    `rope_parameters` (transformers 5), which agree, so every reader gets the same rope."""
    scaling = dict(c.rope_scaling) if c.rope_scaling else None
    parameters = {"rope_theta": c.rope_theta, "rope_type": "default"} | (scaling or {})
    return {"rope_theta": c.rope_theta, "rope_scaling": scaling, "rope_parameters": parameters}


__all__ = ["FAMILIES", "ConfigError", "Family", "ModelConfig"]
