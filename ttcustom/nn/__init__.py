"""Modules: like torch.nn, computing on whichever backend their parameters live on."""

from ttcustom.nn import init
from ttcustom.nn.containers import ModuleDict, ModuleList, Sequential
from ttcustom.nn.layers import GELU, Dropout, Embedding, LayerNorm, Linear, RMSNorm, SiLU
from ttcustom.nn.module import Module, Parameter
from ttcustom.nn.transformer import MLP, Attention, GatedMLP, RotaryEmbedding, TransformerBlock

__all__ = [
    "GELU",
    "MLP",
    "Attention",
    "Dropout",
    "Embedding",
    "GatedMLP",
    "LayerNorm",
    "Linear",
    "Module",
    "ModuleDict",
    "ModuleList",
    "Parameter",
    "RMSNorm",
    "RotaryEmbedding",
    "Sequential",
    "SiLU",
    "TransformerBlock",
    "init",
]
