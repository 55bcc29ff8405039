"""LoRA in one place: the `LoRALinear` layer, `apply_lora`, `merge_lora` and the PEFT format.

Target names are the layer names users know from PEFT and transformers ("q_proj",
"v_proj", GPT-2's "c_attn"); ttcustom's own names ("qkv_proj") work too, and
"all-linear" selects every linear layer but the LM head. The default targets are the
architecture's (`Architecture.lora_targets`).

The module sits beside `ttcustom.nn` (it imports only `nn`, `functional` and autograd;
models are used through their `config` and `weight_table`), so `ttcustom.nn` re-exports
`LoRALinear`. Writing an adapter directory is `ttcustom.export.to_peft`, which takes
`adapter_config` and `adapter_tensors` from here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ttcustom import functional as F
from ttcustom.autograd.function import no_grad
from ttcustom.autograd.tensor import Tensor
from ttcustom.creation import zeros
from ttcustom.nn import init
from ttcustom.nn.layers import Dropout, Linear
from ttcustom.nn.module import Module, Parameter

if TYPE_CHECKING:
    from ttcustom.models.causal_lm import CausalLM

PEFT_PREFIX = "base_model.model."


class LoRALinear(Module):
    """y = x W^T + b + (dropout(x) A^T * alpha/r) B^T, with W and b frozen: one op,
    `F.lora_linear` (one graph node; fused kernels on tt).

    The base weight and bias keep their names (`weight`, `bias`) so state dicts and
    checkpoint tables see an ordinary Linear. A is kaiming-uniform and B zero (PEFT's
    initialisation), so wrapping a layer does not change its output until training.
    """

    def __init__(self, base: Linear, r: int = 8, alpha: float = 16, dropout: float = 0.0) -> None:
        super().__init__()
        if r <= 0:
            raise ValueError(f"LoRALinear: rank r must be positive, got {r}")
        self.in_features, self.out_features = base.in_features, base.out_features
        self.r, self.alpha, self.scaling = r, alpha, alpha / r
        self.weight = base.weight
        self.bias = base.bias
        self.weight.requires_grad = False
        if self.bias is not None:
            self.bias.requires_grad = False
        backend, dtype = base.weight.backend, base.weight.dtype
        self.lora_A = Parameter(zeros(r, self.in_features, dtype=dtype, backend=backend))
        self.lora_B = Parameter(zeros(self.out_features, r, dtype=dtype, backend=backend))
        init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))
        self.dropout = Dropout(dropout) if dropout > 0 else None

    def forward(self, x: Tensor) -> Tensor:
        t = self.linear_terms(x)
        return F.lora_linear(x, t.weight, t.bias, t.lora_A, t.lora_B, t.scaling, t.lora_input)

    def linear_terms(self, x: Tensor) -> F.LinearTerms:
        """This layer as a member of `F.grouped_linear` on input `x` (its dropout drawn)."""
        h = self.dropout(x) if self.dropout is not None else None
        return F.LinearTerms(self.weight, self.bias, self.lora_A, self.lora_B, self.scaling, h)

    def delta_weight(self) -> Tensor:
        """The update B A * alpha/r that merging adds to the base weight [out, in]."""
        return F.matmul(self.lora_B, self.lora_A) * self.scaling

    def merged(self) -> Linear:
        """A plain Linear holding W + B A * alpha/r (the same weight and bias objects,
        updated in place); its parameters keep their requires_grad."""
        with no_grad():
            self.weight.copy_(self.weight + self.delta_weight())
        with init.skip_init():
            linear = Linear(self.in_features, self.out_features, self.bias is not None,
                            self.weight.backend, self.weight.dtype)
        linear.weight = self.weight
        linear.bias = self.bias
        return linear

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"r={self.r}, alpha={self.alpha}")


# ---------------------------------------------------------------------- on a model
def lora_layers(model: Module) -> dict[str, LoRALinear]:
    """The model's LoRA layers by module name ("layers.0.attn.q_proj")."""
    return {n: m for n, m in model.named_modules() if isinstance(m, LoRALinear)}


def has_lora(model: Module) -> bool:
    """Whether the model has LoRA layers (for a PEFT export, or a merge)."""
    return any(isinstance(m, LoRALinear) for m in model.modules())


def hf_module_name(model: CausalLM, name: str) -> str:
    """The transformers name of one of our linear layers ("layers.0.attn.q_proj" ->
    "model.layers.0.self_attn.q_proj"), from the model's weight table."""
    return model.weight_table.lookup(f"{name}.weight")[0].removesuffix(".weight")


def _leaf(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def _targets(model: CausalLM, target_modules: Sequence[str] | str | None) -> list[tuple[str, Linear]]:
    linears = [(n, m) for n, m in model.named_modules() if isinstance(m, Linear)]
    if target_modules == "all-linear":
        return [(n, m) for n, m in linears if n != "lm_head"]
    if isinstance(target_modules, str):
        target_modules = [target_modules]
    wanted = set(target_modules or model.config.spec.lora_targets)
    chosen = [(n, m) for n, m in linears
              if _leaf(n) in wanted or _leaf(hf_module_name(model, n)) in wanted]
    matched = {_leaf(n) for n, _ in chosen} | {_leaf(hf_module_name(model, n)) for n, _ in chosen}
    unknown = sorted(wanted - matched)
    if unknown:
        available = sorted({_leaf(hf_module_name(model, n)) for n, _ in linears})
        raise ValueError(f"apply_lora: target_modules {unknown} match no linear layer of this "
                         f"{model.config.architecture}; available: {available} or 'all-linear'")
    return chosen


def apply_lora(model: CausalLM, r: int = 8, alpha: float = 16, dropout: float = 0.0,
               target_modules: Sequence[str] | str | None = None) -> CausalLM:
    """Wrap the targeted linear layers in `LoRALinear` (in place) and freeze all other
    parameters; returns `model`. Default targets: the architecture's `lora_targets`
    (q_proj and v_proj, PEFT's default; c_attn for GPT-2)."""
    if has_lora(model):
        raise ValueError("apply_lora: the model already has LoRA layers; merge_lora() first")
    chosen = _targets(model, target_modules)
    model.requires_grad_(False)
    for name, linear in chosen:
        _replace(model, name, LoRALinear(linear, r, alpha, dropout))
    return model


def merge_lora(model: CausalLM) -> CausalLM:
    """Replace every `LoRALinear` by a Linear with W + B A * alpha/r, in place, on the
    device; returns `model`. Parameters keep their requires_grad (the base stays frozen)."""
    for name, layer in lora_layers(model).items():
        _replace(model, name, layer.merged())
    return model


def _replace(model: Module, name: str, new: Module) -> None:
    parent_name, _, child = name.rpartition(".")
    parent = dict(model.named_modules())[parent_name]
    parent.add_module(child, new)  # keeps the child's position in the parent


# ---------------------------------------------------------------------- PEFT format
def adapter_tensors(model: CausalLM) -> dict[str, Tensor]:
    """The LoRA matrices under PEFT's tensor names
    ("base_model.model.<transformers module>.lora_A.weight")."""
    tensors = {}
    for name, layer in lora_layers(model).items():
        prefix = PEFT_PREFIX + hf_module_name(model, name)
        tensors[f"{prefix}.lora_A.weight"] = layer.lora_A
        tensors[f"{prefix}.lora_B.weight"] = layer.lora_B
    return tensors


def adapter_config(model: CausalLM, base_model_name_or_path: str | None = None) -> dict[str, Any]:
    """PEFT's adapter_config.json for the model's LoRA layers (one r/alpha/dropout)."""
    layers = lora_layers(model)
    if not layers:
        raise ValueError("to_peft: the model has no LoRA layers; call ttcustom.lora.apply_lora "
                         "first (or use ttcustom.export.to_hf for a full checkpoint)")
    settings = {(m.r, m.alpha, m.dropout.p if m.dropout else 0.0) for m in layers.values()}
    if len(settings) > 1:
        raise ValueError(f"to_peft: LoRA layers differ in (r, alpha, dropout) {sorted(settings)}; "
                         "one adapter needs one setting")
    ((r, alpha, dropout),) = settings
    rows = [model.weight_table.lookup(f"{name}.weight") for name in layers]
    return {
        "peft_type": "LORA",
        "task_type": "CAUSAL_LM",
        "base_model_name_or_path": base_model_name_or_path,
        "r": r,
        "lora_alpha": alpha,
        "lora_dropout": dropout,
        "target_modules": sorted({_leaf(hf.removesuffix(".weight")) for hf, _ in rows}),
        "bias": "none",
        "fan_in_fan_out": any(transposed for _, transposed in rows),  # Conv1D: [in, out]
        "inference_mode": True,
        "init_lora_weights": True,
        "modules_to_save": None,
        "layers_to_transform": None,
        "layers_pattern": None,
        "rank_pattern": {},
        "alpha_pattern": {},
        "use_rslora": False,
        "use_dora": False,
        "revision": None,
    }


__all__ = ["LoRALinear", "adapter_config", "adapter_tensors", "apply_lora", "has_lora",
           "hf_module_name", "lora_layers", "merge_lora"]
