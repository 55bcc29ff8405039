"""LoRA in plain PyTorch with ttcustom's names (`weight`, `bias`, `lora_A`, `lora_B`).

The eager/compiled twin of `ttcustom.lora.apply_lora`: the same math as PEFT,
y = x W^T + b + (x A^T * alpha/r) B^T with W, b frozen, and the same state-dict keys
as `ttcustom.lora.LoRALinear`, so adapted models load each other's weights.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as TF


class TorchLoRALinear(torch.nn.Module):
    def __init__(self, base: torch.nn.Linear, r: int, alpha: float):
        super().__init__()
        self.weight = base.weight
        self.bias = base.bias
        self.weight.requires_grad_(False)
        if self.bias is not None:
            self.bias.requires_grad_(False)
        self.scaling = alpha / r
        self.lora_A = torch.nn.Parameter(torch.empty(r, base.in_features))
        self.lora_B = torch.nn.Parameter(torch.zeros(base.out_features, r))
        torch.nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))

    def forward(self, x):
        out = TF.linear(x, self.weight, self.bias)
        return out + TF.linear(TF.linear(x, self.lora_A) * self.scaling, self.lora_B)


def apply_torch_lora(model: torch.nn.Module, r: int, alpha: float,
                     target_modules: tuple[str, ...]) -> torch.nn.Module:
    """Freeze `model` and wrap each Linear whose leaf name is in `target_modules`."""
    model.requires_grad_(False)
    targets = [(name, module) for name, module in model.named_modules()
               if isinstance(module, torch.nn.Linear) and name.rsplit(".", 1)[-1] in target_modules]
    if not targets:
        raise ValueError(f"apply_torch_lora: no Linear named {target_modules} in the model")
    for name, linear in targets:
        parent_name, _, leaf = name.rpartition(".")
        setattr(model.get_submodule(parent_name), leaf, TorchLoRALinear(linear, r, alpha))
    return model


__all__ = ["TorchLoRALinear", "apply_torch_lora"]
