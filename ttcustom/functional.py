"""Differentiable functions, like `torch.nn.functional` (and torch's tensor math).

Each validates its inputs (shape, dtype) with an error naming the argument, then applies
one op from `ttcustom.ops`. Broadcasting and argument names follow torch.
"""

from __future__ import annotations

import builtins
import math
from collections.abc import Sequence

import torch

from ttcustom import random as _random
from ttcustom.autograd.tensor import Tensor
from ttcustom.backends import bias as _bias
from ttcustom.ops import attention as attention_ops
from ttcustom.ops import dropout as dropout_ops
from ttcustom.ops import elementwise as ew
from ttcustom.ops import embedding as embedding_ops
from ttcustom.ops import linalg
from ttcustom.ops import losses as loss_ops
from ttcustom.ops import norms as norm_ops
from ttcustom.ops import shape as shp
from ttcustom.ops.linalg import LinearTerms

Scalar = int | float


# ---------------------------------------------------------------------- validation
def _check_tensor(name: str, fn: str, value: object) -> Tensor:
    if not isinstance(value, Tensor):
        raise TypeError(f"{fn}: `{name}` must be a ttcustom Tensor, got {type(value).__name__}")
    return value


def _check_same_dtype(fn: str, **tensors: Tensor | None) -> None:
    given = {k: t.dtype for k, t in tensors.items() if t is not None}
    if len(set(given.values())) > 1:
        listing = ", ".join(f"{k}={v}" for k, v in given.items())
        raise TypeError(f"{fn}: dtype mismatch ({listing}); cast with .to(dtype) first")


def _broadcast_check(fn: str, a: Tensor, b: Tensor | Scalar) -> None:
    if isinstance(b, Tensor):
        try:
            if a.shape != b.shape:  # broadcast_shapes costs ~0.1 ms of Python per call
                torch.broadcast_shapes(a.shape, b.shape)
        except RuntimeError:
            raise ValueError(
                f"{fn}: shapes {a.shape} and {b.shape} cannot be broadcast together"
            ) from None
        _check_same_dtype(fn, input=a, other=b)
    elif not isinstance(b, (int, float)):
        raise TypeError(f"{fn}: `other` must be a Tensor or a number, got {type(b).__name__}")


def _dims(ndim: int, dim: int | Sequence[int] | None) -> tuple[int, ...] | None:
    if dim is None:
        return None
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    for d in dims:
        if not -ndim <= d < ndim:
            raise IndexError(f"dimension {d} out of range for a {ndim}-d tensor")
    return tuple(sorted(d % ndim for d in dims))


# ---------------------------------------------------------------------- elementwise
def add(input: Tensor, other: Tensor | Scalar) -> Tensor:
    _broadcast_check("add", input, other)
    return ew.Add.apply(input, other)


def sub(input: Tensor, other: Tensor | Scalar) -> Tensor:
    _broadcast_check("sub", input, other)
    return ew.Sub.apply(input, other)


def mul(input: Tensor, other: Tensor | Scalar) -> Tensor:
    _broadcast_check("mul", input, other)
    return ew.Mul.apply(input, other)


def div(input: Tensor, other: Tensor | Scalar) -> Tensor:
    _broadcast_check("div", input, other)
    return ew.Div.apply(input, other)


def neg(input: Tensor) -> Tensor:
    return ew.Neg.apply(input)


def exp(input: Tensor) -> Tensor:
    return ew.Exp.apply(input)


def log(input: Tensor) -> Tensor:
    return ew.Log.apply(input)


def pow(input: Tensor, exponent: Scalar) -> Tensor:
    if not isinstance(exponent, (int, float)):
        raise TypeError("pow: only a number exponent is supported")
    return ew.Pow.apply(input, float(exponent))


def tanh(input: Tensor) -> Tensor:
    return ew.Tanh.apply(input)


def silu(input: Tensor) -> Tensor:
    return ew.Silu.apply(input)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return ew.Gelu.apply(input, approximate)


def swiglu(gate: Tensor, up: Tensor) -> Tensor:
    """silu(gate) * up (the Llama MLP's gating) as one fused op."""
    if gate.shape != up.shape:
        raise ValueError(f"swiglu: gate shape {gate.shape} != up shape {up.shape}")
    return ew.SwiGLU.apply(gate, up)


def cast(input: Tensor, dtype: torch.dtype) -> Tensor:
    return input if input.dtype == dtype else ew.Cast.apply(input, dtype)


# ---------------------------------------------------------------------- matmul
def matmul(input: Tensor, other: Tensor) -> Tensor:
    _check_tensor("other", "matmul", other)
    if input.ndim < 2 or other.ndim < 2:
        raise ValueError(f"matmul: both operands need 2+ dims, got {input.shape} @ {other.shape}")
    if input.shape[-1] != other.shape[-2]:
        raise ValueError(
            f"matmul: inner dims differ: input {input.shape} has {input.shape[-1]} columns, "
            f"other {other.shape} has {other.shape[-2]} rows"
        )
    _check_same_dtype("matmul", input=input, other=other)
    return linalg.Matmul.apply(input, other)


def _check_linear(input: Tensor, weight: Tensor, bias: Tensor | None,
                  hold: bool = True) -> None:
    """Validate a linear layer's operands; a frozen weight is then held laid out
    (unless `hold` is False: a group holds its members' weights together)."""
    if weight.ndim != 2:
        raise ValueError(f"linear: weight must be 2-d [out, in], got shape {weight.shape}")
    if input.shape[-1] != weight.shape[1]:
        raise ValueError(
            f"linear: input has {input.shape[-1]} features (shape {input.shape}) but weight "
            f"expects in_features={weight.shape[1]} (shape {weight.shape})"
        )
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ValueError(f"linear: bias shape {bias.shape}, expected ({weight.shape[0]},)")
    _check_same_dtype("linear", input=input, weight=weight, bias=bias)
    if hold and _frozen(weight):  # a LoRA base, a frozen head
        weight.backend.hold_frozen(weight)


def _frozen(weight: Tensor) -> bool:
    return weight.is_leaf and not weight.requires_grad


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """input @ weight.T + bias, with weight [out_features, in_features]."""
    _check_linear(input, weight, bias)
    return linalg.Linear.apply(input, weight, bias)


def lora_linear(input: Tensor, weight: Tensor, bias: Tensor | None, lora_A: Tensor,
                lora_B: Tensor, scaling: float, lora_input: Tensor | None = None) -> Tensor:
    """linear(input, weight, bias) + linear(lora_input, lora_A) * scaling @ lora_B.T in
    one op, lora_A [r, in_features], lora_B [out_features, r]; `lora_input` (the LoRA
    branch's input, e.g. dropout(input)) defaults to `input`."""
    _check_lora(input, weight, bias, lora_A, lora_B, lora_input)
    return linalg.LoRALinear.apply(input, weight, bias, lora_A, lora_B, float(scaling),
                                   lora_input)


def _check_lora(input: Tensor, weight: Tensor, bias: Tensor | None, lora_A: Tensor,
                lora_B: Tensor, lora_input: Tensor | None, hold: bool = True) -> None:
    if input.ndim < 2:
        raise ValueError(f"lora_linear: input needs 2+ dims [..., features], got {input.shape}")
    _check_linear(input, weight, bias, hold)  # the base layer's operands
    if lora_A.ndim != 2 or lora_B.ndim != 2 or lora_A.shape[1] != weight.shape[-1] \
            or lora_B.shape != (weight.shape[0], lora_A.shape[0]):
        raise ValueError(
            f"lora_linear: lora_A {lora_A.shape} and lora_B {lora_B.shape} do not fit weight "
            f"{weight.shape}; expected lora_A (r, {weight.shape[-1]}) and lora_B "
            f"({weight.shape[0]}, r)")
    if lora_input is not None and lora_input.shape != input.shape:
        raise ValueError(f"lora_linear: lora_input shape {lora_input.shape} differs from "
                         f"input shape {input.shape}")
    _check_same_dtype("lora_linear", input=input, lora_A=lora_A, lora_B=lora_B,
                      lora_input=lora_input)


def grouped_linear(input: Tensor, terms: Sequence[LinearTerms]) -> Tensor:
    """The members' outputs on one input, concatenated on the last dim, in one op: each
    member is `linear` or, with lora_A and lora_B, `lora_linear` of `input` (e.g. q, k
    and v projections: `[m.linear_terms(x) for m in (q_proj, k_proj, v_proj)]`)."""
    terms = list(terms)
    if not terms or not all(isinstance(t, LinearTerms) for t in terms):
        raise ValueError(f"grouped_linear: terms must be a non-empty sequence of "
                         f"LinearTerms, got {[type(t).__name__ for t in terms]}")
    for t in terms:
        if (t.lora_A is None) != (t.lora_B is None):
            raise ValueError("grouped_linear: a member has only one of lora_A and lora_B; "
                             "give both (LoRA) or neither (a plain linear)")
        if t.lora_A is None:
            _check_linear(input, t.weight, t.bias, hold=False)
        else:
            _check_lora(input, t.weight, t.bias, t.lora_A, t.lora_B, t.lora_input, hold=False)
    if len(terms) > 1 and all(_frozen(t.weight) for t in terms):
        input.backend.hold_frozen_group(terms)
    else:
        for t in terms:
            if _frozen(t.weight):
                input.backend.hold_frozen(t.weight)
    arrays = [a for t in terms for a in (t.weight, t.bias, t.lora_A, t.lora_B, t.lora_input)]
    scalings = tuple(float(t.scaling) for t in terms)
    return linalg.GroupedLinear.apply(input, scalings, *arrays)


# ---------------------------------------------------------------------- reductions
def sum(input: Tensor, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
    return shp.Sum.apply(input, _dims(input.ndim, dim), keepdim)


def mean(input: Tensor, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
    dims = _dims(input.ndim, dim)
    return mul(sum(input, dims, keepdim), 1.0 / shp.reduced_count(input.shape, dims))


# ---------------------------------------------------------------------- shapes
def reshape(input: Tensor, shape: Sequence[int]) -> Tensor:
    shape = tuple(shape)
    numel = input.numel()
    if shape.count(-1) > 1:
        raise ValueError(f"reshape: only one dimension can be -1, got {shape}")
    if -1 in shape:
        known = math.prod(n for n in shape if n != -1)
        if known == 0 or numel % known:
            raise ValueError(f"reshape: cannot reshape {input.shape} into {shape}")
        shape = tuple(numel // known if n == -1 else n for n in shape)
    if math.prod(shape) != numel:
        raise ValueError(f"reshape: cannot reshape {input.shape} ({numel} elements) into {shape}")
    return input if shape == input.shape else shp.Reshape.apply(input, shape)


def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    s, e = start_dim % input.ndim, end_dim % input.ndim
    shape = input.shape
    return reshape(input, shape[:s] + (math.prod(shape[s : e + 1]),) + shape[e + 1 :])


def unsqueeze(input: Tensor, dim: int) -> Tensor:
    dim = dim % (input.ndim + 1)
    return reshape(input, input.shape[:dim] + (1,) + input.shape[dim:])


def permute(input: Tensor, dims: Sequence[int]) -> Tensor:
    dims = tuple(d % input.ndim for d in dims)
    if sorted(dims) != list(range(input.ndim)):
        raise ValueError(f"permute: {dims} is not a permutation of the {input.ndim} dims")
    return shp.Permute.apply(input, dims)


def transpose(input: Tensor, dim0: int, dim1: int) -> Tensor:
    dims = list(range(input.ndim))
    dims[dim0], dims[dim1] = dims[dim1], dims[dim0]
    return permute(input, dims)


def slice(input: Tensor, index: object) -> Tensor:
    """Basic indexing: ints, slices (step >= 1), None and Ellipsis."""
    index = index if isinstance(index, tuple) else (index,)
    for item in index:
        ok = item is None or item is Ellipsis or isinstance(item, (int, builtins.slice))
        if not ok:
            raise TypeError(
                f"indexing: only ints, slices, None and ... are supported, got {type(item).__name__}"
            )
    return shp.Slice.apply(input, index)


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    tensors = list(tensors)
    if not tensors:
        raise ValueError("cat: expected a non-empty list of tensors")
    first = tensors[0].shape
    dim = dim % len(first)
    for i, t in enumerate(tensors):
        if len(t.shape) != len(first) or any(
            a != b for d, (a, b) in enumerate(zip(t.shape, first)) if d != dim
        ):
            raise ValueError(
                f"cat: tensor {i} has shape {t.shape}, incompatible with {first} along dim {dim}"
            )
    return shp.Concat.apply(*tensors, dim=dim)


concat = cat


# ---------------------------------------------------------------------- nn
def embedding(input: Tensor, weight: Tensor) -> Tensor:
    if input.dtype.is_floating_point:
        raise TypeError(f"embedding: indices must be integers, got {input.dtype}")
    if weight.ndim != 2:
        raise ValueError(f"embedding: weight must be [num_embeddings, dim], got {weight.shape}")
    return embedding_ops.Embedding.apply(input, weight)


def rms_norm(input: Tensor, weight: Tensor | None = None, eps: float = 1e-6) -> Tensor:
    """x / sqrt(mean(x^2) + eps) * weight over the last dim."""
    if weight is not None and weight.shape != input.shape[-1:]:
        raise ValueError(f"rms_norm: weight shape {weight.shape}, expected {input.shape[-1:]}")
    _check_same_dtype("rms_norm", input=input, weight=weight)
    return norm_ops.RMSNorm.apply(input, weight, eps)


def layer_norm(
    input: Tensor, weight: Tensor | None = None, bias: Tensor | None = None, eps: float = 1e-5
) -> Tensor:
    """LayerNorm over the last dim (torch's `normalized_shape` = input.shape[-1:])."""
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.shape != input.shape[-1:]:
            raise ValueError(f"layer_norm: {name} shape {t.shape}, expected {input.shape[-1:]}")
    _check_same_dtype("layer_norm", input=input, weight=weight, bias=bias)
    return norm_ops.LayerNorm.apply(input, weight, bias, eps)


def softmax(input: Tensor, dim: int) -> Tensor:
    return loss_ops.Softmax.apply(input, dim % input.ndim)


def log_softmax(input: Tensor, dim: int) -> Tensor:
    return loss_ops.LogSoftmax.apply(input, dim % input.ndim)


def rotary_embedding(input: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """Rotary position embedding, HF Llama convention (rotate_half), on [B, H, S, D].

    cos/sin are [S, D] or broadcastable to the input (see `ttcustom.nn.rotary`).
    """
    if input.ndim != 4:
        raise ValueError(f"rotary_embedding: input must be [B, H, S, D], got {input.shape}")
    if input.shape[-1] % 2:
        raise ValueError(f"rotary_embedding: head dim {input.shape[-1]} must be even")
    for name, t in (("cos", cos), ("sin", sin)):
        try:
            torch.broadcast_shapes(t.shape, input.shape)
        except RuntimeError:
            raise ValueError(
                f"rotary_embedding: {name} shape {t.shape} does not broadcast to {input.shape}"
            ) from None
    return attention_ops.Rotary.apply(input, cos.detach(), sin.detach())


def attention_bias(keep: Tensor, dtype: torch.dtype) -> Tensor:
    """A keep mask (1/True = may attend, 0/False = may not) as an additive attention bias of
    `dtype`: 0 where kept, the lowest finite value elsewhere (no gradient). The one way a
    mask becomes a bias (`ttcustom.backends.bias`), for every model and attention path."""
    keep = _check_tensor("keep", "attention_bias", keep)
    return Tensor(_bias.attention_bias(keep.backend, keep.detach().data, dtype), keep.backend)


def scaled_dot_product_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attn_mask: Tensor | None = None,
    is_causal: bool = False,
    scale: float | None = None,
) -> Tensor:
    """torch's SDPA on [B, H, S, D]; key/value may have fewer heads (GQA).

    `attn_mask` is a bool mask (True = attend) or an additive float mask broadcastable
    to [B, H, S_q, S_k]; it carries no gradient.
    """
    for name, t in (("query", query), ("key", key), ("value", value)):
        if t.ndim != 4:
            raise ValueError(f"scaled_dot_product_attention: {name} must be [B, H, S, D], "
                             f"got {t.shape}")
    b, h, _, d = query.shape
    if key.shape != value.shape:
        raise ValueError(f"scaled_dot_product_attention: key {key.shape} != value {value.shape}")
    if key.shape[0] != b or key.shape[3] != d or h % key.shape[1]:
        raise ValueError(
            f"scaled_dot_product_attention: query {query.shape} and key {key.shape} disagree "
            "(batch and head dim must match; query heads must be a multiple of key heads)"
        )
    _check_same_dtype("scaled_dot_product_attention", query=query, key=key, value=value)
    mask = _additive_mask(attn_mask, query)
    scale = 1.0 / math.sqrt(d) if scale is None else scale
    return attention_ops.ScaledDotProductAttention.apply(query, key, value, mask, is_causal, scale)


def _additive_mask(attn_mask: Tensor | None, query: Tensor):
    """A bool or float attention mask as the additive array (query's dtype) sdpa takes."""
    if attn_mask is None:
        return None
    if not attn_mask.dtype.is_floating_point:
        attn_mask = attention_bias(attn_mask, query.dtype)
    mask = attn_mask.detach().data
    return mask if attn_mask.dtype == query.dtype else query.backend.cast(mask, query.dtype)


def qkv_attention(
    qkv: Tensor,
    batch_shape: tuple[int, int],
    num_heads: int,
    num_kv_heads: int,
    head_dim: int,
    cos: Tensor | None,
    sin: Tensor | None,
    attn_mask: Tensor | None = None,
    is_causal: bool = False,
    scale: float | None = None,
) -> Tensor:
    """Attention on a fused q|k|v token stream, heads split and merged inside one op.

    `qkv` is [B * S, (H + 2 KV) * D] for `batch_shape` (B, S): the q heads, then the k
    heads, then the v heads (HF order, GPT-2's `c_attn`). Rotary embedding (`cos`/`sin`
    as `rotary_embedding` takes them; None: none) is applied to q and k, then
    `scaled_dot_product_attention` (`attn_mask`, `is_causal`, `scale` as it takes them);
    the result is the heads merged back to [B * S, H * D].
    """
    batch, seq = batch_shape
    width = (num_heads + 2 * num_kv_heads) * head_dim
    if qkv.ndim != 2 or tuple(qkv.shape) != (batch * seq, width):
        raise ValueError(
            f"qkv_attention: qkv must be [B * S, (H + 2 KV) * D] = ({batch * seq}, {width}) "
            f"for batch_shape {tuple(batch_shape)}, {num_heads} heads, {num_kv_heads} kv heads "
            f"and head_dim {head_dim}; got {tuple(qkv.shape)}")
    if num_kv_heads < 1 or num_heads % num_kv_heads:
        raise ValueError(f"qkv_attention: num_heads={num_heads} must be a multiple of "
                         f"num_kv_heads={num_kv_heads}")
    if (cos is None) != (sin is None):
        raise ValueError("qkv_attention: pass both cos and sin (rotary) or neither")
    if cos is not None:
        heads = (batch, num_heads, seq, head_dim)
        if head_dim % 2:
            raise ValueError(f"qkv_attention: head dim {head_dim} must be even for rotary")
        for name, t in (("cos", cos), ("sin", sin)):
            try:
                torch.broadcast_shapes(t.shape, heads)
            except RuntimeError:
                raise ValueError(f"qkv_attention: {name} shape {t.shape} does not broadcast "
                                 f"to the heads {heads}") from None
        cos, sin = cos.detach(), sin.detach()
    mask = _additive_mask(attn_mask, qkv)
    scale = 1.0 / math.sqrt(head_dim) if scale is None else scale
    return attention_ops.QKVAttention.apply(qkv, cos, sin, mask, batch, num_heads, num_kv_heads,
                                            is_causal, scale)


def cross_entropy(
    input: Tensor, target: Tensor, ignore_index: int = -100, reduction: str = "mean"
) -> Tensor:
    """Cross entropy of logits [N, C] against class indices [N] (torch semantics)."""
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"cross_entropy: reduction must be mean/sum/none, got {reduction!r}")
    if input.ndim != 2:
        raise ValueError(f"cross_entropy: input must be [N, C] logits, got shape {input.shape}; "
                         "flatten batch and sequence dims first")
    if target.shape != input.shape[:1]:
        raise ValueError(f"cross_entropy: target shape {target.shape}, expected ({input.shape[0]},)")
    if target.dtype.is_floating_point:
        raise TypeError(f"cross_entropy: target must hold class indices (int), got {target.dtype}")
    return loss_ops.CrossEntropy.apply(input, target, ignore_index, reduction)


def dropout(input: Tensor, p: float = 0.5, training: bool = True, seed: int | None = None) -> Tensor:
    """Zero elements with probability p, scale the rest by 1/(1-p); seeded and repeatable."""
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout: p must be in [0, 1), got {p}")
    if not training or p == 0.0:
        return input
    return dropout_ops.Dropout.apply(input, p, _random.next_seed() if seed is None else seed)
