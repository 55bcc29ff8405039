"""How much device memory one training step of a causal LM needs, before running it.

The planner does not model the model: it builds the one the recipe would build
(`ttcustom.models`, LoRA applied, gradient checkpointing, the recipe's optimizer) on a
`ShapeBackend`, whose arrays are shapes and dtypes only, and runs one real forward,
backward and optimizer step on it, counting the bytes of every array as it is created
and freed. The moments a step is fullest are measured, not derived:

* forward and backward: weights, optimizer state (made by the first step, so the
  second step's backward holds it too), the activations the graph saved and the
  temporaries of the fullest moment (the loss's softmax, a block's gradients...);
* the optimizer step: weights, gradients, optimizer state and what the backend's own
  step holds at once (the CPU reference updates a cache-sized group of parameters at a
  time; tt one parameter at a time with fused in-place kernels), or, under data
  parallel, the averaged copy of every gradient the all-reduce holds until it replaces
  the local one.

`tile=True` counts arrays as tt devices store them (32x32 tiles, integers as int32) and
runs the tt backend's optimizer step; otherwise the count is what the CPU reference
backend's allocator sees. A measurement allocates nothing, so a 70B model plans in
seconds; each distinct step shape is measured once per process.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from ttcustom.backends.shapes import ShapeBackend
from ttcustom.memory.devices import System
from ttcustom.models.config import ModelConfig

#: bytes per element; bfloat8_b stores a 32x32 tile as 1024 mantissas + 64 exponent bytes
DTYPE_BYTES = {"float32": 4.0, "bfloat16": 2.0, "bfloat8_b": 1088 / 1024}
OPTIMIZERS = ("adamw", "sgd", "sgd_momentum")


@dataclass(frozen=True)
class LoraSpec:
    """Rank and target layers of LoRA adapters (names as `ttcustom.lora.apply_lora` takes)."""

    r: int = 8
    #: None: the architecture's defaults (`lora_targets` of its spec), as apply_lora
    target_modules: tuple[str, ...] | str | None = None


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
        """The fullest moment of forward and backward (the loss's, or a block's)."""
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
    """Measure the per-device memory of one training step (see the module docstring).

    `batch_size` is the batch of each device (the trainer's `training_config.batch_size`);
    with `world_size` > 1 data-parallel devices each also holds a full replica of
    weights, gradients and optimizer state, and the gradient buckets of the all-reduce.
    `model_config` is a `ModelConfig` or a transformers config dict. `lora` is a
    `LoraSpec`, a mapping or an object with `r` and `target_modules` (the YAML `lora`
    section), or None for full fine-tuning. `tile` counts 32x32 tiles as tt devices do.
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
    step = _measure(config, batch_size, seq_len, dtype, optimizer, as_lora_spec(lora),
                    grad_checkpointing, tile)
    return MemoryPlan(config=config, batch_size=batch_size, seq_len=seq_len, dtype=dtype,
                      optimizer=optimizer, world_size=world_size,
                      grad_checkpointing=grad_checkpointing, **step,
                      ddp_buffers=step["gradients"] if world_size > 1 else 0)


#: the batch sizes `largest_batch` measured, per model and step shape (any world size)
_SEARCHED: dict[tuple, set[int]] = {}


def largest_batch(system: System, model_config: ModelConfig | Mapping[str, Any], seq_len: int,
                  limit: int = 1 << 16, **options: Any) -> int:
    """The largest per-device batch whose step fits each chip of `system` (data parallel
    over all its chips); 0 when not even one sequence fits."""
    config = as_model_config(model_config)
    budget = system.usable_per_chip
    known = _SEARCHED.setdefault((repr(config), seq_len, repr(sorted(options.items()))), set())

    def measure(batch: int) -> MemoryPlan:
        known.add(batch)
        return plan(config, batch, seq_len, world_size=system.chips, **options)

    def peak(batch: int) -> int:
        return measure(batch).peak

    if peak(1) > budget:
        return 0
    # Memory grows about linearly with the batch (the activations exactly). After a
    # batch that fits, step along the line through the last two that fit (at least as
    # steep as the activations); after one that does not, along the line between it
    # and the largest that fits; bisect when two steps in a row did not halve the range.
    # Batches measured for other systems (each measured once) narrow the range first.
    least_slope = max(measure(2).activations - measure(1).activations, 1)
    fits = sorted(b for b in known if peak(b) <= budget)
    if fits[-1] >= limit:
        return limit
    low, low_peak = fits[-1], peak(fits[-1])
    high = min((b for b in known if peak(b) > budget), default=limit + 1)
    slope = (max((low_peak - peak(fits[-2])) / (low - fits[-2]), least_slope)
             if len(fits) > 1 else least_slope)
    fitted, slow_steps = True, 0
    while high - low > 1:
        if slow_steps >= 2:
            guess = (low + high) // 2
        elif fitted or high not in known:
            guess = low + int((budget - low_peak) // slope)
        else:
            guess = low + (budget - low_peak) * (high - low) // (peak(high) - low_peak)
        guess = min(max(guess, low + 1), high - 1)
        width, measured = high - low, peak(guess)
        fitted = measured <= budget
        if fitted:
            slope = max((measured - low_peak) / (guess - low), least_slope)
            low, low_peak = guess, measured
        else:
            high = guess
        slow_steps = slow_steps + 1 if 2 * (high - low) > width else 0
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
                    targets if targets is None or isinstance(targets, str) else tuple(targets))


# ---------------------------------------------------------------------- measuring
def _build(config: ModelConfig, dtype: str, lora: LoraSpec | None, backend: ShapeBackend) -> Any:
    """The recipe's model on `backend`: uninitialised (values do not change memory)."""
    from ttcustom.lora import apply_lora
    from ttcustom.models import model_class
    from ttcustom.nn import init

    # bfloat8_b: bfloat16 arrays, counted at bfloat8_b's width (ShapeBackend.element_bytes)
    torch_dtype = torch.float32 if dtype == "float32" else torch.bfloat16
    with backend.host_on_meta(), init.skip_init():
        model = model_class(config.model_type)(config, dtype=torch_dtype, backend=backend)
        if lora is not None:
            apply_lora(model, r=lora.r, target_modules=lora.target_modules)
    return model


def _optimizer(model: Any, name: str) -> Any:
    """The recipe's optimizer at the config's defaults (values do not change memory,
    whether weight decay and momentum are on does)."""
    from ttcustom import optim
    from ttcustom.train.config import TrainingSection
    from ttcustom.train.recipe import parameter_groups

    default = {key: spec.default for key, spec in TrainingSection.model_fields.items()}
    groups = parameter_groups(model, default["weight_decay"])
    if name == "adamw":
        return optim.AdamW(groups, lr=default["learning_rate"])
    return optim.SGD(groups, lr=default["learning_rate"],
                     momentum=0.9 if name == "sgd_momentum" else 0.0)


#: measured steps by (repr(config), the other arguments of `_measure`)
_MEASURED: dict[tuple, dict[str, int]] = {}
_MEASURED_KEPT = 256


def _measure(config: ModelConfig, *step: Any) -> dict[str, int]:
    """`_measure_step`, once per model and step shape in this process."""
    key = (repr(config), *step)
    if key not in _MEASURED:
        if len(_MEASURED) >= _MEASURED_KEPT:
            _MEASURED.pop(next(iter(_MEASURED)))
        _MEASURED[key] = _measure_step(config, *step)
    return _MEASURED[key]


def _measure_step(config: ModelConfig, batch: int, seq_len: int, dtype: str, optimizer: str,
                  lora: LoraSpec | None, grad_checkpointing: bool,
                  tile: bool) -> dict[str, int]:
    """One training step of the recipe's model on the shape backend, measured: the
    MemoryPlan fields that do not depend on the world size."""
    from ttcustom.autograd.tensor import Tensor
    from ttcustom.optim.clip import clip_grad_norm_

    width = DTYPE_BYTES[dtype]
    backend = ShapeBackend(tile=tile, element_bytes={torch.bfloat16: width}
                           if dtype == "bfloat8_b" else None)
    with backend.counting() as memory:
        model = _build(config, dtype, lora, backend)
        model.train()
        if grad_checkpointing:
            model.gradient_checkpointing_enable()
        trainable = [p for p in model.parameters() if p.requires_grad]
        step = _optimizer(model, optimizer)
        weights = memory.live
        ids, labels = (Tensor(backend.full((batch, seq_len), 0, torch.int64), backend)
                       for _ in range(2))
        memory.reset_peak()
        loss = model(ids, labels=labels).loss
        # what tt keeps once the first forward or backward made it (frozen weights'
        # copies, causal masks) is held through every later step, like the weights
        kept = backend.kept_bytes()
        weights += kept
        activations = memory.live - weights
        loss.backward()
        del loss, ids, labels
        weights += backend.kept_bytes() - kept
        backward_peak = memory.peak
        gradients = sum(backend.nbytes(p.grad.data) for p in trainable)
        before_step = memory.live
        memory.reset_peak()
        clip_grad_norm_(trainable, 1.0)
        step.step()
        optimizer_state = memory.live - before_step
        step_peak = memory.peak
    counts = {
        "parameters": sum(p.numel() for p in model.parameters()),
        "trainable_parameters": sum(p.numel() for p in trainable),
        "weights": weights, "gradients": gradients, "optimizer_state": optimizer_state,
        "activations": activations,
        # the second step's backward also holds the state the first step made
        "backward_temporaries": backward_peak - weights - activations,
        "step_temporaries": step_peak - weights - gradients - optimizer_state,
    }
    return {name: round(value) for name, value in counts.items()}


__all__ = [
    "DTYPE_BYTES",
    "OPTIMIZERS",
    "LoraSpec",
    "MemoryPlan",
    "as_lora_spec",
    "as_model_config",
    "largest_batch",
    "plan",
]
