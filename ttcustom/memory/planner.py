"""How much device memory one training step of a causal LM needs, before running it.

The estimate counts what ttcustom actually holds at the moments a step is fullest:

* the loss's backward: weights, optimizer state, every array the autograd graph saved
  for backward (see `activation_bytes`) and the fp32 softmax over the vocabulary;
* a block's backward: the gradients in flight inside it and the weight gradients made
  so far, with the head's activations freed (see `_backward_temporaries`);
* the end of backward and the optimizer step: weights, gradients, optimizer state and
  either the update's temporary (AdamW's sqrt(v) for one group of parameters) or, under
  data parallel, the averaged copy of every gradient that the all-reduce holds until
  it replaces the local gradients.

Activations follow `ttcustom.models.CausalLM` op by op (which inputs each op saves), so
the estimate changes when the model code changes: tests compare it with the bytes the
graph really saves and with the measured peak of the CPU reference backend. On tt
devices every tensor is stored in 32x32 tiles, so the last two dims of each tensor are
rounded up to multiples of 32 (`tile=True`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ttcustom.backends.reference import CPU_OPTIMIZER_GROUP
from ttcustom.memory.devices import System
from ttcustom.models.config import ModelConfig
from ttcustom.models.registry import model_class

#: bytes per element; bfloat8_b stores a 32x32 tile as 1024 mantissas + 64 exponent bytes
DTYPE_BYTES = {"float32": 4.0, "bfloat16": 2.0, "bfloat8_b": 1088 / 1024}
FP32 = 4.0
INT64 = 8.0
TILE = 32
OPTIMIZERS = ("adamw", "sgd", "sgd_momentum")
_STATE_ARRAYS = {"adamw": 2, "sgd": 0, "sgd_momentum": 1}


@dataclass(frozen=True)
class LoraSpec:
    """Rank and target layers of LoRA adapters (names as `ttcustom.lora.apply_lora` takes)."""

    r: int = 8
    target_modules: tuple[str, ...] | str = ("q_proj", "v_proj")


@dataclass(frozen=True)
class MemoryPlan:
    """Bytes per device of one training step; `peak` is what must fit. `parameters` and
    `trainable_parameters` are element counts (without tile padding)."""

    config: ModelConfig = field(repr=False)
    batch_size: int
    seq_len: int
    dtype: str
    optimizer: str
    world_size: int
    grad_checkpointing: bool
    parameters: int
    trainable_parameters: int
    weights: int
    gradients: int
    optimizer_state: int
    activations: int
    backward_temporaries: int
    step_temporaries: int
    ddp_buffers: int

    @property
    def backward_peak(self) -> int:
        """The fullest moment of backward (the loss's, or a block's)."""
        return (self.weights + self.optimizer_state + self.activations
                + self.backward_temporaries)

    @property
    def optimizer_peak(self) -> int:
        """End of backward (data parallel: the averaged copy of every gradient, before it
        replaces the local one) or the optimizer step (its temporaries), the larger."""
        return (self.weights + self.gradients + self.optimizer_state
                + max(self.step_temporaries, self.ddp_buffers))

    @property
    def peak(self) -> int:
        return max(self.backward_peak, self.optimizer_peak)

    def fits(self, system: System) -> bool:
        """Whether the step fits one chip of `system` (leaving its headroom free)."""
        return self.peak <= system.usable_per_chip


def plan(
    model_config: ModelConfig | Mapping[str, Any],
    batch_size: int,
    seq_len: int,
    dtype: str = "bfloat16",
    optimizer: str = "adamw",
    lora: LoraSpec | Mapping[str, Any] | Any | None = None,
    grad_checkpointing: bool = False,
    world_size: int = 1,
    *,
    tile: bool = False,
) -> MemoryPlan:
    """Estimate the per-device memory of one training step.

    `batch_size` is the batch of each device (the trainer's `training_config.batch_size`);
    with `world_size` > 1 data-parallel devices each also holds a full replica of
    weights, gradients and optimizer state, and the gradient buckets of the all-reduce.
    `model_config` is a `ModelConfig` or a transformers config dict. `lora` is a
    `LoraSpec`, a mapping or an object with `r` and `target_modules` (the YAML `lora`
    section), or None for full fine-tuning. `tile` pads to 32x32 tiles as tt devices do.
    """
    config = as_model_config(model_config)
    if dtype not in DTYPE_BYTES:
        raise ValueError(f"dtype {dtype!r} is not known to the planner; choose one of "
                         f"{sorted(DTYPE_BYTES)}")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer {optimizer!r} is not known to the planner; choose one of "
                         f"{OPTIMIZERS}")
    for name, value in (("batch_size", batch_size), ("seq_len", seq_len),
                        ("world_size", world_size)):
        if value < 1:
            raise ValueError(f"{name} must be at least 1, got {value}")
    spec = as_lora_spec(lora)
    width = DTYPE_BYTES[dtype]

    def counts(padded: bool) -> tuple[int, int]:
        """(all parameters, trainable ones) in elements, tile-padded when `padded`."""
        total = sum(parameter_counts(config, padded).values())
        adapters = lora_parameters(config, spec, padded) if spec else 0
        return total + adapters, adapters if spec else total

    parameters, trainable_parameters = counts(False)
    weights, trainable = counts(tile)
    grads = round(trainable * width)
    rotary = config.family.positions == "rotary"
    tables = 2 * _matrix(min(config.max_position_embeddings, 4096), config.head_dim, tile) * rotary
    return MemoryPlan(
        config=config,
        batch_size=batch_size,
        seq_len=seq_len,
        dtype=dtype,
        optimizer=optimizer,
        world_size=world_size,
        grad_checkpointing=grad_checkpointing,
        parameters=parameters,
        trainable_parameters=trainable_parameters,
        weights=round((weights + tables) * width),
        gradients=grads,
        optimizer_state=round(_STATE_ARRAYS[optimizer] * trainable * width),
        activations=activation_bytes(config, batch_size, seq_len, width, spec,
                                     grad_checkpointing, tile),
        backward_temporaries=_backward_temporaries(config, batch_size, seq_len, width, spec,
                                                   grad_checkpointing, tile),
        step_temporaries=round(_step_temporary(config, spec, tile) * width
                               if optimizer == "adamw" else 0),
        ddp_buffers=grads if world_size > 1 else 0,
    )


def largest_batch(system: System, model_config: ModelConfig | Mapping[str, Any], seq_len: int,
                  limit: int = 1 << 16, **options: Any) -> int:
    """The largest per-device batch whose step fits each chip of `system` (data parallel
    over all its chips); 0 when not even one sequence fits."""

    def fits(batch: int) -> bool:
        return plan(model_config, batch, seq_len, world_size=system.chips, **options).fits(system)

    if not fits(1):
        return 0
    low, high = 1, 2
    while high <= limit and fits(high):
        low, high = high, high * 2
    high = min(high, limit + 1)
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if fits(middle) else (low, middle)
    return low


# ---------------------------------------------------------------------- inputs
def as_model_config(value: ModelConfig | Mapping[str, Any]) -> ModelConfig:
    """A ModelConfig from itself, a transformers config dict or object, or field values."""
    if isinstance(value, ModelConfig):
        return value
    if hasattr(value, "to_dict") and callable(value.to_dict):
        value = value.to_dict()
    if not isinstance(value, Mapping):
        raise TypeError(f"model_config must be a ttcustom ModelConfig or a config dict, got "
                        f"{type(value).__name__}")
    if "architectures" in value or "n_embd" in value or "rms_norm_eps" in value:
        return ModelConfig.from_hf_dict(dict(value), source="model_config")
    return ModelConfig(**value)


def as_lora_spec(lora: Any) -> LoraSpec | None:
    """LoraSpec from a spec, a mapping, an object with r/target_modules, or None."""
    if lora is None or isinstance(lora, LoraSpec):
        return lora
    get = lora.get if isinstance(lora, Mapping) else lambda key, default: getattr(lora, key, default)
    if get("enabled", True) is False:
        return None
    targets = get("target_modules", LoraSpec.target_modules)
    return LoraSpec(int(get("r", LoraSpec.r)),
                    targets if isinstance(targets, str) else tuple(targets))


# ---------------------------------------------------------------------- parameters
def _pad(n: int, tile: bool) -> int:
    return -(-n // TILE) * TILE if tile else n


def _matrix(rows: int, cols: int, tile: bool) -> int:
    return _pad(rows, tile) * _pad(cols, tile)


def _vector(n: int, tile: bool) -> int:
    """A 1-d tensor: on tt a [1, n] row, so one tile row tall."""
    return (TILE if tile else 1) * _pad(n, tile)


def block_linears(config: ModelConfig) -> dict[str, tuple[int, int]]:
    """(in_features, out_features) of each linear layer of one block, by our leaf name."""
    d, m = config.hidden_size, config.intermediate_size
    q = config.num_attention_heads * config.head_dim
    kv = config.num_key_value_heads * config.head_dim
    attn = ({"qkv_proj": (d, q + 2 * kv)} if config.family.fused_qkv
            else {"q_proj": (d, q), "k_proj": (d, kv), "v_proj": (d, kv)})
    mlp = ({"gate_proj": (d, m), "up_proj": (d, m), "down_proj": (m, d)}
           if config.family.mlp == "gated" else {"fc_in": (d, m), "fc_out": (m, d)})
    return attn | {"o_proj": (q, d)} | mlp


def parameter_counts(config: ModelConfig, tile: bool = False) -> dict[str, int]:
    """Elements of each parameter group, as `ttcustom.models` builds the model."""
    family = config.family
    d, v = config.hidden_size, config.vocab_size
    norm = (2 if family.norm == "layer" else 1) * _vector(d, tile)
    qkv_bias = family.qkv_bias or family.all_bias or config.attention_bias
    mlp_bias = family.all_bias or config.mlp_bias
    o_bias = family.all_bias or config.attention_bias
    layer = 2 * norm
    for name, (fan_in, fan_out) in block_linears(config).items():
        layer += _matrix(fan_out, fan_in, tile)
        has_bias = (o_bias if name == "o_proj" else qkv_bias if name in _ATTN_INPUTS
                    else mlp_bias)
        layer += _vector(fan_out, tile) if has_bias else 0
    if family.qk_norm:
        layer += 2 * _vector(config.head_dim, tile)
    counts = {
        "embedding": _matrix(v, d, tile),
        "layers": config.num_hidden_layers * layer,
        "final_norm": norm,
        "lm_head": 0 if config.tie_word_embeddings else _matrix(v, d, tile),
    }
    if family.positions == "learned":
        counts["positions"] = _matrix(config.max_position_embeddings, d, tile)
    return counts


_ATTN_INPUTS = ("q_proj", "k_proj", "v_proj", "qkv_proj")


def lora_targets(config: ModelConfig, spec: LoraSpec) -> list[str]:
    """Our leaf names of the block linears `spec` adapts (HF names are accepted too)."""
    linears = block_linears(config)
    if spec.target_modules == "all-linear":
        return list(linears)
    wanted = ([spec.target_modules] if isinstance(spec.target_modules, str)
              else list(spec.target_modules))
    table = model_class(config.model_type).weight_table
    chosen, matched = [], set()
    for name in linears:
        prefix = "attn" if name in (*_ATTN_INPUTS, "o_proj") else "mlp"
        hf_leaf = table.lookup(f"layers.0.{prefix}.{name}.weight")[0].rsplit(".", 2)[-2]
        hits = {name, hf_leaf} & set(wanted)
        if hits:
            chosen.append(name)
            matched |= hits
    unknown = sorted(set(wanted) - matched)
    if unknown:
        raise ValueError(f"lora target_modules {unknown} match no linear layer of a "
                         f"{config.model_type} block; available: {sorted(linears)} or "
                         "'all-linear' (the LM head is never adapted by the planner)")
    return chosen


def lora_parameters(config: ModelConfig, spec: LoraSpec, tile: bool = False) -> int:
    """Elements of all LoRA A [r, in] and B [out, r] matrices."""
    linears = block_linears(config)
    per_layer = sum(_matrix(spec.r, linears[n][0], tile) + _matrix(linears[n][1], spec.r, tile)
                    for n in lora_targets(config, spec))
    return config.num_hidden_layers * per_layer


def _step_temporary(config: ModelConfig, lora: LoraSpec | None, tile: bool) -> int:
    """Elements of AdamW's sqrt(v) temporary: one group of parameters at a time, a group
    being up to CPU_OPTIMIZER_GROUP elements or one larger parameter."""
    linears = block_linears(config)
    if lora:
        adapted = [linears[name] for name in lora_targets(config, lora)]
        sizes = [_matrix(lora.r, n, tile) for pair in adapted for n in pair]
        total = lora_parameters(config, lora, tile)
    else:
        sizes = [_matrix(config.vocab_size, config.hidden_size, tile)]
        sizes += [_matrix(fan_out, fan_in, tile) for fan_in, fan_out in linears.values()]
        total = sum(parameter_counts(config, tile).values())
    return max(*sizes, min(total, CPU_OPTIMIZER_GROUP))


# ---------------------------------------------------------------------- activations
def activation_bytes(config: ModelConfig, batch: int, seq_len: int, width: float,
                     lora: LoraSpec | None = None, grad_checkpointing: bool = False,
                     tile: bool = False) -> int:
    """Bytes the autograd graph of one forward keeps for backward, on one device.

    With gradient checkpointing each block keeps only its input, and backward
    recomputes one block at a time, holding that block's activations.
    """
    return round(sum(_activation_parts(config, batch, seq_len, width, lora,
                                       grad_checkpointing, tile)))


def _activation_parts(config: ModelConfig, batch: int, seq_len: int, width: float,
                      lora: LoraSpec | None, grad_checkpointing: bool,
                      tile: bool) -> tuple[float, float]:
    """(bytes the blocks save, bytes saved after them: final norm, LM head and loss)."""
    tokens = batch * seq_len
    rows = _pad(tokens, tile)
    d = _pad(config.hidden_size, tile)
    layer = _layer_bytes(config, batch, seq_len, width, lora, tile)
    if grad_checkpointing:
        blocks = config.num_hidden_layers * rows * d * width + layer
    else:
        blocks = config.num_hidden_layers * layer
        if lora is not None:
            blocks -= rows * (d * width + _norm_stats(config, tile) * FP32)
    # final norm input and stats, logits (saved by the loss), shifted labels; the LM
    # head's input and the embedding's token ids only when those weights train
    trains_ends = lora is None
    head = (rows * d * (1 + trains_ends) * width + rows * _norm_stats(config, tile) * FP32
            + rows * _pad(config.vocab_size, tile) * width
            + tokens * INT64 * (1 + trains_ends))
    return blocks, head


def _backward_temporaries(config: ModelConfig, batch: int, seq_len: int, width: float,
                          lora: LoraSpec | None, grad_checkpointing: bool, tile: bool) -> int:
    """What backward holds beyond `activation_bytes` at its fullest moment, which is one of:

    * the loss's backward: the softmax over the vocabulary in fp32 (in a narrower dtype,
      the forward's fp32 copy of the logits is as large), all activations still saved;
    * a block's backward, once the head's activations are freed: an MLP's worth of
      [tokens, intermediate] gradients in flight, the residual stream's gradient, and
      the weight gradients made so far. Going down the blocks, each one frees its saved
      arrays and adds its weight gradients, so the fullest block is the last or the first.

    Under checkpointing the recomputed block exists only in the second moment.
    """
    rows = _pad(batch * seq_len, tile)
    d, m = _pad(config.hidden_size, tile), _pad(config.intermediate_size, tile)
    layers = config.num_hidden_layers
    blocks, head = _activation_parts(config, batch, seq_len, width, lora, grad_checkpointing,
                                     tile)
    layer = _layer_bytes(config, batch, seq_len, width, lora, tile)
    recomputed = layer if grad_checkpointing else 0
    loss = rows * _pad(config.vocab_size, tile) * FP32 * (2 if width < FP32 else 1)
    at_loss = blocks - recomputed + head + loss
    # gradients of the MLP's inner arrays; one more when the down projection is frozen
    # (its input was not saved, so nothing is freed when its gradient appears)
    gated = config.family.mlp == "gated"
    down = "down_proj" if gated else "fc_out"
    frozen_down = lora is not None and down not in lora_targets(config, lora)
    mlp_arrays = (3 if gated else 2) + frozen_down
    # the residual stream's gradient in and out (and, recomputing, the block's output
    # and its input's gradient)
    residual = 4 if grad_checkpointing else 2
    in_flight = (mlp_arrays * rows * m + residual * rows * d) * width
    head_grad = 0 if lora else _matrix(config.vocab_size, config.hidden_size, tile) * width
    layer_grads = (lora_parameters(config, lora, tile) if lora
                   else parameter_counts(config, tile)["layers"]) / layers * width
    freed_per_block = rows * d * width if grad_checkpointing else layer
    down_grad = 0 if lora else _matrix(m, d, tile) * width  # the first one a block makes
    at_block = max(blocks + in_flight + head_grad + down_grad
                   + done * (layer_grads - freed_per_block) for done in (0, layers - 1))
    return round(max(at_loss, at_block) - blocks - head)


def _norm_stats(config: ModelConfig, tile: bool) -> int:
    """fp32 statistics a norm saves per row: rstd (RMSNorm) or mean and rstd (LayerNorm)."""
    per_row = 2 if config.family.norm == "layer" else 1
    return per_row * (TILE if tile else 1)


def _layer_bytes(config: ModelConfig, batch: int, seq_len: int, width: float,
                 lora: LoraSpec | None, tile: bool) -> float:
    """One block's saved arrays, following TransformerBlock / Attention / the MLPs."""
    family = config.family
    rows = _pad(batch * seq_len, tile)
    d, m = _pad(config.hidden_size, tile), _pad(config.intermediate_size, tile)
    heads, kv_heads, hd = config.num_attention_heads, config.num_key_value_heads, config.head_dim
    # attention tensors live as [B, H, S, D]: tiles pad S and D
    head_rows = batch * _pad(seq_len, tile)
    q, kv = heads * head_rows * _pad(hd, tile), kv_heads * head_rows * _pad(hd, tile)
    targets = set(lora_targets(config, lora)) if lora else None

    def linear_input(*names: str) -> int:
        """A linear layer saves its input only when its weight (or adapter) trains."""
        return 1 if targets is None or targets & set(names) else 0

    stats = _norm_stats(config, tile) * FP32 * rows * 2  # attn_norm and mlp_norm
    elements = 2 * rows * d  # norm inputs: block input and the mid-block residual
    if family.fused_qkv:
        elements += rows * d * linear_input("qkv_proj")
        elements += q + 2 * kv  # the fused projection; q, k, v are views of it
    else:
        elements += rows * d * linear_input("q_proj", "k_proj", "v_proj")
        elements += q + 2 * kv  # rotary q, k (or normed) and v, saved by attention
        if family.qk_norm:
            elements += q + kv  # q and k before their per-head RMSNorm
            stats += (heads + kv_heads) * head_rows * FP32
    elements += q  # attention output (also o_proj's input: the same array)
    stats += heads * head_rows * FP32 * (TILE if tile else 1)  # attention logsumexp
    if family.mlp == "gated":
        elements += rows * d * linear_input("gate_proj", "up_proj")
        elements += 2 * rows * m  # gate and up, saved by swiglu
        elements += rows * m * linear_input("down_proj")
    else:
        elements += rows * d * linear_input("fc_in")
        elements += rows * m  # fc_in output, saved by gelu
        elements += rows * m * linear_input("fc_out")
    if config.hidden_dropout > 0:
        elements += 2 * rows * d  # the two residual-branch dropout masks
    if targets:
        elements += 2 * rows * _pad(lora.r, tile) * len(targets)  # A x and its scaled copy
    return elements * width + stats


__all__ = [
    "DTYPE_BYTES",
    "OPTIMIZERS",
    "LoraSpec",
    "MemoryPlan",
    "activation_bytes",
    "as_lora_spec",
    "as_model_config",
    "block_linears",
    "largest_batch",
    "lora_parameters",
    "lora_targets",
    "parameter_counts",
    "plan",
]
