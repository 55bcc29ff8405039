"""Basic layers: Linear, Embedding, RMSNorm, LayerNorm, Dropout, activations."""

from __future__ import annotations

import torch

from ttcustom import functional as F
from ttcustom.autograd.tensor import Tensor
from ttcustom.backends import Backend
from ttcustom.creation import zeros
from ttcustom.nn import init
from ttcustom.nn.module import Module, Parameter

Device = str | Backend | None


def _empty_param(shape: tuple[int, ...], dtype: torch.dtype | None, device: Device) -> Parameter:
    return Parameter(zeros(*shape, dtype=dtype or torch.float32, backend=device))


class Linear(Module):
    """y = x @ W.T + b with W [out_features, in_features]; torch's init and layout."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 device: Device = None, dtype: torch.dtype | None = None) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = _empty_param((out_features, in_features), dtype, device)
        self.bias = _empty_param((out_features,), dtype, device) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.linear_default_(self.weight, self.bias)

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight, self.bias)

    def linear_terms(self, x: Tensor) -> F.LinearTerms:
        """This layer as a member of `F.grouped_linear` on input `x`."""
        return F.LinearTerms(self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, " \
               f"bias={self.bias is not None}"


class Embedding(Module):
    def __init__(self, num_embeddings: int, embedding_dim: int,
                 device: Device = None, dtype: torch.dtype | None = None) -> None:
        super().__init__()
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.weight = _empty_param((num_embeddings, embedding_dim), dtype, device)
        init.normal_(self.weight)

    def forward(self, ids: Tensor) -> Tensor:
        return F.embedding(ids, self.weight)

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}"


class RMSNorm(Module):
    def __init__(self, dim: int, eps: float = 1e-6,
                 device: Device = None, dtype: torch.dtype | None = None) -> None:
        super().__init__()
        self.eps = eps
        self.weight = _empty_param((dim,), dtype, device)
        init.ones_(self.weight)

    def forward(self, x: Tensor) -> Tensor:
        return F.rms_norm(x, self.weight, self.eps)

    def extra_repr(self) -> str:
        return f"{self.weight.shape[0]}, eps={self.eps}"


class LayerNorm(Module):
    def __init__(self, dim: int, eps: float = 1e-5, bias: bool = True,
                 device: Device = None, dtype: torch.dtype | None = None) -> None:
        super().__init__()
        self.eps = eps
        self.weight = _empty_param((dim,), dtype, device)
        init.ones_(self.weight)
        self.bias = _empty_param((dim,), dtype, device) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        return F.layer_norm(x, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.weight.shape[0]}, eps={self.eps}"


class Dropout(Module):
    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class SiLU(Module):
    def forward(self, x: Tensor) -> Tensor:
        return F.silu(x)


class GELU(Module):
    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        self.approximate = approximate

    def forward(self, x: Tensor) -> Tensor:
        return F.gelu(x, self.approximate)
