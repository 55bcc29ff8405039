"""One case per primitive (forward and backward), run on the tt backend and on the
reference backend by both the golden suite and the hardware suite.

Shapes are deliberately not multiples of 32, so every case also checks that tile
padding stays hidden. `pcc` is the bfloat16 threshold on a card (documented per op;
0.99 unless a case needs its own reason).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

import ttcustom as tc
from ttcustom import functional as F


@dataclass(frozen=True)
class Case:
    name: str
    inputs: Callable[[torch.Generator], list[torch.Tensor]]
    fn: Callable[..., tc.Tensor]
    #: which inputs get a gradient (default: the floating point ones)
    differentiable: tuple[bool, ...] | None = None
    pcc: float = 0.99
    tags: tuple[str, ...] = field(default=())


def _randn(*shape: int) -> Callable[[torch.Generator], torch.Tensor]:
    return lambda g: torch.randn(*shape, generator=g)


def _ints(high: int, *shape: int) -> Callable[[torch.Generator], torch.Tensor]:
    return lambda g: torch.randint(0, high, shape, generator=g)


def _inputs(*makers: Callable[[torch.Generator], torch.Tensor]):
    return lambda g: [make(g) for make in makers]


def _positive(*shape: int):
    return lambda g: torch.rand(*shape, generator=g) + 0.5


def _labels(g: torch.Generator) -> torch.Tensor:
    labels = torch.randint(0, 37, (45,), generator=g)
    labels[::4] = -100
    return labels


def _lora_terms(n: int, outs: tuple[int, ...]) -> list:
    """A [6, 40] and B [out, 6] of the first n outs."""
    return [m for out in outs[:n] for m in (_randn(6, 40), _randn(out, 6))]


def _grouped_biases(x, wq, wk, wv, bq, bk, aq, b_q, ak, b_k):
    """q and k with LoRA and biases (k's trained), v plain without a bias."""
    return F.grouped_linear(x, [F.LinearTerms(wq, bq, aq, b_q, 2.0),
                                F.LinearTerms(wk, bk, ak, b_k, 2.0), F.LinearTerms(wv)])


def _grouped(lora: tuple[int, ...], dropout: bool = False):
    """F.grouped_linear of x and three weights, LoRA (scaling 2, or 1 for the second)
    on the members `lora`, with a dropout mask (last input) on the first of them."""
    def fn(x, *rest):
        weights, ab = rest[:3], rest[3:3 + 2 * len(lora)]
        terms = [F.LinearTerms(w) for w in weights]
        for j, i in enumerate(lora):
            h = F.mul(x, rest[-1]) if dropout and j == 0 else None
            terms[i] = F.LinearTerms(weights[i], None, ab[2 * j], ab[2 * j + 1],
                                     1.0 if j == 1 else 2.0, h)
        return F.grouped_linear(x, terms)

    return fn


def _attention(causal: bool, kv_heads: int, width: int, masked: bool = False,
               head_mask: bool = False, seq: int = 20):
    def fn(q, k, v, *mask):
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask[0] if mask else None,
                                              is_causal=causal)

    def inputs(g):
        q = torch.randn(2, 4, seq, width, generator=g)
        k = torch.randn(2, kv_heads, seq, width, generator=g)
        v = torch.randn(2, kv_heads, seq, width, generator=g)
        if head_mask:  # an additive mask of its own per head and query
            return [q, k, v, torch.randn(1, 4, seq, seq, generator=g)]
        if not masked:
            return [q, k, v]
        keep = torch.ones(2, 1, 1, seq, dtype=torch.bool)
        keep[1, ..., 15:] = False  # the second sequence is 15 tokens, then padding
        return [q, k, v, keep]

    return inputs, fn


def _rotary_case(width: int, seq: int = 20):
    def inputs(g):
        x = torch.randn(2, 3, seq, width, generator=g)
        freqs = torch.outer(torch.arange(float(seq)),
                            1.0 / 10000 ** (torch.arange(0, width, 2) / width))
        angles = torch.cat((freqs, freqs), dim=-1)
        return [x, angles.cos(), angles.sin()]

    return inputs


def _qkv_attention(kv_heads: int, width: int, seq: int, rotary: bool = True,
                   masked: bool = False):
    """F.qkv_attention on a causal fused [2 * seq, (4 + 2 KV) * D] stream, 4 query heads."""
    def fn(qkv, *rest):
        cos, sin = rest[:2] if rotary else (None, None)
        mask = rest[-1] if masked else None
        return F.qkv_attention(qkv, (2, seq), 4, kv_heads, width, cos, sin, mask, True)

    def inputs(g):
        qkv = torch.randn(2 * seq, (4 + 2 * kv_heads) * width, generator=g)
        tables = _rotary_case(width, seq)(g)[1:] if rotary else []
        keep = torch.ones(2, 1, 1, seq, dtype=torch.bool)
        keep[1, ..., seq - 5:] = False  # the second sequence ends 5 tokens early
        return [qkv, *tables] + ([keep] if masked else [])

    return inputs, fn, (True,) + (False,) * (2 * rotary + masked)


CASES: list[Case] = [
    Case("add_broadcast", _inputs(_randn(3, 5, 40), _randn(40)), F.add),
    Case("sub_scalar", _inputs(_randn(3, 40)), lambda a: F.sub(a, 1.5)),
    Case("mul_broadcast", _inputs(_randn(3, 5, 40), _randn(5, 1)), F.mul),
    Case("div", _inputs(_randn(3, 40), _positive(3, 40)), F.div),
    Case("neg_exp", _inputs(_randn(3, 40)), lambda a: F.exp(F.neg(a))),
    Case("log", _inputs(_positive(3, 40)), F.log),
    Case("pow", _inputs(_positive(3, 40)), lambda a: F.pow(a, 1.7)),
    Case("tanh", _inputs(_randn(3, 40)), F.tanh),
    Case("silu", _inputs(_randn(3, 40)), F.silu),
    Case("gelu", _inputs(_randn(3, 40)), F.gelu),
    Case("gelu_tanh", _inputs(_randn(3, 40)), lambda a: F.gelu(a, "tanh")),
    Case("swiglu", _inputs(_randn(3, 40), _randn(3, 40)), F.swiglu),
    Case("cast", _inputs(_randn(3, 40)), lambda a: F.cast(F.cast(a, torch.float32), a.dtype)),
    Case("sum_dims", _inputs(_randn(3, 5, 40)), lambda a: F.sum(a, (0, 2))),
    Case("sum_keepdim", _inputs(_randn(3, 5, 40)), lambda a: F.sum(a, -1, keepdim=True)),
    Case("sum_all", _inputs(_randn(3, 5, 40)), lambda a: F.sum(a)),
    Case("mean", _inputs(_randn(3, 5, 40)), lambda a: F.mean(a, 1)),
    Case("reshape", _inputs(_randn(3, 5, 40)), lambda a: F.reshape(a, (15, 8, 5))),
    Case("permute", _inputs(_randn(3, 5, 40)), lambda a: F.permute(a, (2, 0, 1))),
    Case("slice_basic", _inputs(_randn(3, 5, 40)), lambda a: a[1:, :-1, 3:37]),
    Case("slice_int_none_ellipsis", _inputs(_randn(3, 5, 40)), lambda a: a[1, None, ..., 7]),
    Case("slice_step", _inputs(_randn(3, 9, 40)), lambda a: a[:, 1::3, ::2]),
    Case("concat", _inputs(_randn(3, 5, 40), _randn(3, 2, 40)), lambda a, b: F.cat([a, b], 1)),
    Case("matmul_batched", _inputs(_randn(2, 3, 5, 40), _randn(2, 3, 40, 7)), F.matmul),
    Case("matmul_broadcast", _inputs(_randn(2, 3, 5, 40), _randn(40, 7)), F.matmul),
    Case("linear_bias", _inputs(_randn(3, 5, 40), _randn(24, 40), _randn(24)), F.linear),
    Case("linear_no_bias", _inputs(_randn(7, 40), _randn(24, 40)), F.linear),
    Case("embedding", _inputs(_ints(37, 3, 7), _randn(37, 40)), F.embedding),
    # LoRA linear (rank 6, unaligned): frozen base (ttnn.addmm with the laid-out weight),
    # trained base, 2-d tokens, the LoRA branch on its own input (a dropout mask)
    Case("lora_linear_frozen_base", _inputs(_randn(3, 5, 40), _randn(24, 40), _randn(24),
                                            _randn(6, 40), _randn(24, 6)),
         lambda x, w, b, a, lb: F.lora_linear(x, w, b, a, lb, 2.0),
         (True, False, False, True, True)),
    Case("lora_linear_trained_base", _inputs(_randn(3, 5, 40), _randn(24, 40), _randn(24),
                                             _randn(6, 40), _randn(24, 6)),
         lambda x, w, b, a, lb: F.lora_linear(x, w, b, a, lb, 1.0)),  # alpha == r
    Case("lora_linear_2d_dropout", _inputs(_randn(45, 40), _randn(24, 40), _randn(6, 40),
                                           _randn(24, 6), _positive(45, 40)),
         lambda x, w, a, lb, m: F.lora_linear(x, w, None, a, lb, 0.5, F.mul(x, m)),
         (True, False, True, True, False)),
    # grouped linear (q, k, v of GQA-like unequal widths, unaligned, rank 6): frozen bases
    # with LoRA on all members or some (the fused products), plain frozen members, a
    # trained base and a dropout (the per-member ops)
    Case("grouped_linear_lora_all", _inputs(_randn(3, 5, 40), _randn(24, 40), _randn(8, 40),
                                            _randn(8, 40), *_lora_terms(3, (24, 8, 8))),
         _grouped((0, 1, 2)), (True, False, False, False) + (True,) * 6),
    Case("grouped_linear_lora_q_v", _inputs(_randn(45, 40), _randn(24, 40), _randn(8, 40),
                                            _randn(8, 40), *_lora_terms(2, (24, 8))),
         _grouped((0, 2)), (True, False, False, False) + (True,) * 4),
    Case("grouped_linear_plain", _inputs(_randn(3, 5, 40), _randn(24, 40), _randn(8, 40)),
         lambda x, *w: F.grouped_linear(x, [F.LinearTerms(m) for m in w]),
         (True, False, False)),
    Case("grouped_linear_biases", _inputs(_randn(3, 5, 40), _randn(24, 40), _randn(8, 40),
                                          _randn(8, 40), _randn(24), _randn(8),
                                          *_lora_terms(2, (24, 8))),
         _grouped_biases, (True, False, False, False, False, True) + (True,) * 4),
    Case("grouped_linear_trained_base", _inputs(_randn(3, 5, 40), _randn(24, 40),
                                                _randn(8, 40), _randn(8, 40),
                                                *_lora_terms(3, (24, 8, 8))),
         _grouped((0, 1, 2))),
    Case("grouped_linear_dropout", _inputs(_randn(45, 40), _randn(24, 40), _randn(8, 40),
                                           _randn(8, 40), *_lora_terms(2, (24, 8)),
                                           _positive(45, 40)),
         _grouped((0, 2), dropout=True), (True, False, False, False) + (True,) * 4 + (False,)),
    Case("rms_norm", _inputs(_randn(3, 5, 40), _positive(40)), F.rms_norm),
    Case("rms_norm_no_weight", _inputs(_randn(3, 40)), lambda a: F.rms_norm(a, eps=1e-5)),
    Case("layer_norm", _inputs(_randn(3, 5, 40), _positive(40), _randn(40)), F.layer_norm),
    Case("softmax_last", _inputs(_randn(3, 5, 40)), lambda a: F.softmax(a, -1)),
    Case("softmax_mid", _inputs(_randn(3, 5, 40)), lambda a: F.softmax(a, 1)),
    Case("log_softmax", _inputs(_randn(3, 5, 40)), lambda a: F.log_softmax(a, -1)),
    Case("rotary_composed", _rotary_case(16), F.rotary_embedding, (True, False, False)),
    Case("rotary_fused", _rotary_case(64), F.rotary_embedding, (True, False, False)),
    Case("sdpa_causal_gqa", *_attention(True, 2, 16)),
    Case("sdpa_full", *_attention(False, 4, 16)),
    Case("sdpa_causal_padding_mask", *_attention(True, 1, 16, masked=True),
         (True, True, True, False)),
    Case("sdpa_gqa_head_mask", *_attention(False, 2, 16, head_mask=True),
         (True, True, True, False)),
    # a head dim of whole tiles: bfloat16 takes ttnn's fused SDPA kernel (see fused_legal)
    Case("sdpa_causal_gqa_d64", *_attention(True, 2, 64)),
    Case("sdpa_causal_padding_mask_d64", *_attention(True, 1, 64, masked=True),
         (True, True, True, False)),
    Case("sdpa_gqa_head_mask_d64", *_attention(False, 2, 64, head_mask=True),
         (True, True, True, False)),
    # whole-tile square scores: scale and masks fused into the softmax (scale 1/8 exact
    # in bfloat16; 1/sqrt(40) is not, so it is applied apart)
    Case("sdpa_causal_gqa_d64_s32", *_attention(True, 2, 64, seq=32)),
    Case("sdpa_causal_d40_s32", *_attention(True, 4, 40, seq=32)),
    Case("sdpa_causal_gqa_padding_mask_d64_s32", *_attention(True, 2, 64, masked=True, seq=32),
         (True, True, True, False)),
    # heads split and merged by ttnn's nlp_* kernels (whole-tile heads and sequences) around
    # the fused rotary and SDPA kernels; else composed (see split_qkv_heads)
    Case("qkv_attention_gqa_d64_s32", *_qkv_attention(2, 64, 32)),
    Case("qkv_attention_mqa_padding_mask_d64_s32", *_qkv_attention(1, 64, 32, masked=True)),
    Case("qkv_attention_no_rotary_d32_s32", *_qkv_attention(4, 32, 32, rotary=False)),
    Case("qkv_attention_gqa_d16_s20", *_qkv_attention(2, 16, 20)),
    Case("cross_entropy_mean", _inputs(_randn(45, 37), _labels),
         lambda x, t: F.cross_entropy(x, t)),
    Case("cross_entropy_sum", _inputs(_randn(45, 37), _labels),
         lambda x, t: F.cross_entropy(x, t, reduction="sum")),
    Case("cross_entropy_none", _inputs(_randn(45, 37), _labels),
         lambda x, t: F.cross_entropy(x, t, reduction="none")),
]

#: the attention cases again, under no_grad
INFERENCE_CASES: list[Case] = [c for c in CASES if c.name.startswith("sdpa")]


def _host(x: torch.Tensor, dtype: torch.dtype, precision: torch.dtype) -> torch.Tensor:
    return x.to(precision).to(dtype) if x.is_floating_point() else x


def run(case: Case, backend, dtype: torch.dtype, grad: bool = True,
        precision: torch.dtype | None = None):
    """(output, input grads) of `case` on `backend` in `dtype`, as float32 host tensors.

    Inputs and the upstream gradient come from one seeded generator and are rounded to
    `precision` (default: `dtype`), so a float32 reference can see a bfloat16 run's values.
    """
    precision = precision or dtype
    g = torch.Generator().manual_seed(1234)
    host = [_host(x, dtype, precision) for x in case.inputs(g)]
    flags = case.differentiable or tuple(x.is_floating_point() for x in host)
    tensors = [tc.tensor(x, requires_grad=grad and d, backend=backend)
               for x, d in zip(host, flags)]
    if not grad:
        with tc.no_grad():
            return case.fn(*tensors).to_torch().float(), []
    out = case.fn(*tensors)
    upstream = torch.randn(out.shape, generator=g).to(precision).to(out.dtype)
    out.backward(tc.tensor(upstream, backend=backend))
    grads = [t.grad.to_torch().float() for t, d in zip(tensors, flags) if d]
    return out.to_torch().float(), grads


def pcc(a: torch.Tensor, b: torch.Tensor) -> float:
    """Pearson correlation of two tensors (1.0 for equal constant tensors)."""
    a, b = a.double().flatten(), b.double().flatten()
    if torch.equal(a, b):
        return 1.0
    a, b = a - a.mean(), b - b.mean()
    return float((a @ b) / (a.norm() * b.norm()).clamp_min(1e-30))


def assert_correlated(actual: torch.Tensor, expected: torch.Tensor, threshold: float,
                      what: str) -> None:
    """PCC >= threshold; a single value (a loss) is compared to 2e-2 relative instead."""
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    if actual.numel() == 1:
        torch.testing.assert_close(actual, expected, rtol=2e-2, atol=1e-2,
                                   msg=lambda m: f"{what}: {m}")
        return
    value = pcc(actual, expected)
    assert value >= threshold, f"{what}: pcc {value:.5f} < {threshold}"
