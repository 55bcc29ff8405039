"""`LoRALinear`: a frozen Linear plus a trainable low-rank update (LoRA, as PEFT does it)."""

from __future__ import annotations

import math

from ttcustom import functional as F
from ttcustom.autograd.function import no_grad
from ttcustom.autograd.tensor import Tensor
from ttcustom.creation import zeros
from ttcustom.nn import init
from ttcustom.nn.layers import Dropout, Linear
from ttcustom.nn.module import Module, Parameter


class LoRALinear(Module):
    """y = x W^T + b + (dropout(x) A^T * alpha/r) B^T, with W and b frozen.

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
        out = F.linear(x, self.weight, self.bias)
        h = self.dropout(x) if self.dropout is not None else x
        return out + F.linear(F.linear(h, self.lora_A) * self.scaling, self.lora_B)

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


__all__ = ["LoRALinear"]
