"""Modules: like torch.nn, computing on whichever backend their parameters live on."""

from ttcustom.nn import init
from ttcustom.nn.containers import ModuleDict, ModuleList, Sequential
from ttcustom.nn.layers import GELU, Dropout, Embedding, LayerNorm, Linear, RMSNorm, SiLU
from ttcustom.nn.module import Module, Parameter

__all__ = [
    "GELU",
    "Dropout",
    "Embedding",
    "LayerNorm",
    "Linear",
    "Module",
    "ModuleDict",
    "ModuleList",
    "Parameter",
    "RMSNorm",
    "Sequential",
    "SiLU",
    "init",
]
