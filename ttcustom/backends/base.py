"""The `Backend` protocol: the primitive op set every backend implements.

An array is whatever the backend computes on (a `torch.Tensor` for the reference
backend, a `ttnn.Tensor` for tt). Arrays cross the protocol with their *logical*
torch-style shapes; a backend that pads (tt tiles) does so inside and never leaks the
padding. The autograd engine and every `Function` are written against this protocol
only, so one engine serves both backends.

Backward primitives exist where a fused kernel is worth having (norms, attention,
loss, embedding); the rest of backward is composed from forward primitives.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

Array = Any
Shape = tuple[int, ...]


@dataclass
class TransferCounter:
    """Host<->device transfers, so tests can assert a step stays on the device."""

    uploads: int = 0
    downloads: int = 0

    def reset(self) -> None:
        self.uploads = 0
        self.downloads = 0


class Backend(abc.ABC):
    """Primitive ops over backend arrays. Methods never record autograd history."""

    name: str
    #: dtype used for new floating point tensors unless one is given
    default_float: torch.dtype = torch.float32
    #: queries that compute nothing on the device (never part of a captured step)
    QUERIES = frozenset({"shape", "dtype"})
    #: primitives that update their array arguments in place
    IN_PLACE = frozenset({"copy_", "scale_", "adamw_step", "sgd_step"})
    #: primitives with a default composed of the others (a backend may fuse them)
    COMPOSED = frozenset({"lora_linear", "lora_linear_backward", "grouped_linear",
                          "grouped_linear_backward", "split_qkv_heads", "merge_heads",
                          "split_heads"})

    def __init__(self) -> None:
        self.transfers = TransferCounter()

    # ----------------------------------------------------------------- data movement
    @abc.abstractmethod
    def upload(self, value: torch.Tensor, dtype: torch.dtype | None = None,
               shard_dim: int | None = None) -> Array:
        """Host torch tensor -> backend array (counted as an upload).

        On a mesh the value is replicated to every device, or with `shard_dim` split along
        that dim so each device holds its own slice (a data-parallel batch). With one
        device the slice is the whole value, so a single-device backend ignores `shard_dim`.
        """

    @abc.abstractmethod
    def download(self, a: Array) -> torch.Tensor:
        """Backend array -> host torch tensor with the logical shape (counted)."""

    @abc.abstractmethod
    def shape(self, a: Array) -> Shape:
        """Logical shape of `a`."""

    @abc.abstractmethod
    def dtype(self, a: Array) -> torch.dtype:
        """Logical dtype of `a` as a torch dtype."""

    @abc.abstractmethod
    def cast(self, a: Array, dtype: torch.dtype) -> Array:
        """`a` converted to `dtype` on the device."""

    @abc.abstractmethod
    def full(self, shape: Shape, value: float, dtype: torch.dtype) -> Array:
        """A new array filled with `value`, created on the device."""

    def storage_id(self, a: Array) -> int:
        """Identity of the memory behind `a`: equal for two views of one buffer."""
        return id(a)

    def synchronize(self) -> None:
        """Wait for queued device work (no-op where execution is synchronous)."""

    def close(self) -> None:
        """Release the device. Safe to call twice."""

    def describe(self) -> dict[str, Any]:
        """Facts for `ttcustom info`."""
        return {"backend": self.name}

    # ----------------------------------------------------------------- device mesh
    # The mesh sub-protocol used by data parallel (`ttcustom.distributed.mesh`): a backend
    # opened on several devices computes on all of them at once, every array replicated
    # or sharded (`upload(shard_dim=)`). Single-device backends keep these defaults.
    @property
    def num_devices(self) -> int:
        """How many devices each array spans (the mesh size); 1 without a mesh."""
        return 1

    def all_reduce(self, a: Array) -> Array:
        """The sum of `a` over the mesh devices, left on each of them."""
        raise NotImplementedError(
            f"the {self.name} backend runs on one device, so it has no all_reduce; data "
            "parallel on cpu/cuda reduces through torch.distributed (torchrun), on tt over "
            "a mesh (device_config.mesh_shape)")

    @classmethod
    def primitives(cls) -> frozenset[str]:
        """The protocol's op names a captured step is made of (see `ttcustom.capture`)."""
        return (frozenset(Backend.__abstractmethods__) | cls.COMPOSED) - cls.QUERIES

    def compile_program(self, program: Any, compile: bool) -> Any:
        """A runner for a captured step: `runner(inputs, scalars) -> outputs`.

        `program` is a `ttcustom.capture.Program`. The default runs its generated
        straight-line code as it is; backends override this to hand it to a compiler
        (`torch.compile`, a ttnn trace) when `compile` is true.
        """
        return program.function

    # ------------------------------------------------------------------ elementwise
    # Binary ops broadcast like torch; `b` may be a Python scalar.
    @abc.abstractmethod
    def add(self, a: Array, b: Array | float) -> Array: ...

    @abc.abstractmethod
    def sub(self, a: Array, b: Array | float) -> Array: ...

    @abc.abstractmethod
    def mul(self, a: Array, b: Array | float) -> Array: ...

    @abc.abstractmethod
    def div(self, a: Array, b: Array | float) -> Array: ...

    @abc.abstractmethod
    def neg(self, a: Array) -> Array: ...

    @abc.abstractmethod
    def exp(self, a: Array) -> Array: ...

    @abc.abstractmethod
    def log(self, a: Array) -> Array: ...

    @abc.abstractmethod
    def pow(self, a: Array, exponent: float) -> Array: ...

    @abc.abstractmethod
    def tanh(self, a: Array) -> Array: ...

    @abc.abstractmethod
    def clamp(self, a: Array, min: float | None = None, max: float | None = None) -> Array: ...

    @abc.abstractmethod
    def silu(self, a: Array) -> Array: ...

    @abc.abstractmethod
    def silu_backward(self, grad: Array, a: Array) -> Array:
        """d silu(a) given the upstream grad."""

    @abc.abstractmethod
    def gelu(self, a: Array, approximate: str = "none") -> Array: ...

    @abc.abstractmethod
    def gelu_backward(self, grad: Array, a: Array, approximate: str = "none") -> Array: ...

    @abc.abstractmethod
    def sum_to_shape(self, a: Array, shape: Shape) -> Array:
        """Sum `a` over the dims broadcasting added, so its shape becomes `shape`."""

    # ------------------------------------------------------------------ shape ops
    @abc.abstractmethod
    def reshape(self, a: Array, shape: Shape) -> Array: ...

    @abc.abstractmethod
    def permute(self, a: Array, dims: Sequence[int]) -> Array: ...

    @abc.abstractmethod
    def slice(self, a: Array, index: tuple) -> Array:
        """Basic indexing (ints, slices with step 1 or more, None, Ellipsis)."""

    @abc.abstractmethod
    def slice_backward(self, grad: Array, shape: Shape, index: tuple) -> Array:
        """Zeros of `shape` with `grad` scattered into `index`."""

    @abc.abstractmethod
    def concat(self, arrays: Sequence[Array], dim: int) -> Array: ...

    # ------------------------------------------------------------------ reductions
    @abc.abstractmethod
    def sum(self, a: Array, dims: Sequence[int] | None, keepdim: bool = False) -> Array: ...

    @abc.abstractmethod
    def expand(self, a: Array, shape: Shape) -> Array:
        """Broadcast `a` to `shape` (backward of a reduction)."""

    # ------------------------------------------------------------------ matmul
    @abc.abstractmethod
    def matmul(
        self, a: Array, b: Array, transpose_a: bool = False, transpose_b: bool = False
    ) -> Array:
        """Batched matmul with optional transposition of the last two dims."""

    @abc.abstractmethod
    def linear(self, x: Array, weight: Array, bias: Array | None) -> Array:
        """x @ weight.T + bias, weight stored [out_features, in_features]."""

    def hold_frozen(self, weight: Any) -> None:
        """`weight`, a linear layer's leaf tensor (a Parameter) with requires_grad False,
        is about to be used: a backend may keep it in the layout its kernel wants, made
        once, for as long as the tensor and its array stay unchanged (no-op here)."""

    def hold_frozen_group(self, terms: Sequence[Any]) -> None:
        """`terms`, the `LinearTerms` of one `grouped_linear` whose base weights are all
        frozen leaf tensors, are about to be used: a backend that fuses such a group may
        keep the weights laid out as one operand, made once; else (here) each weight is
        held as by `hold_frozen`."""
        for t in terms:
            self.hold_frozen(t.weight)

    @abc.abstractmethod
    def linear_backward(
        self, grad: Array, x: Array, weight: Array, need: tuple[bool, bool, bool],
        into: Array | None = None,
    ) -> tuple[Array | None, Array | None, Array | None]:
        """(d x, d weight, d bias) of `linear`; `need` says which to compute; `into`, when
        given, is added to d x (`Function.accumulates`)."""

    def lora_linear(
        self, x: Array, weight: Array, bias: Array | None, lora_A: Array, lora_B: Array,
        scaling: float, dropped_x: Array | None = None,
    ) -> tuple[Array, tuple[Array, ...]]:
        """(y, saved) of a LoRA linear on 2-d x [tokens, in]:
        y = x W^T + b + lora_in B^T, lora_in = (dropped_x or x) A^T * scaling [tokens, r].
        A is [r, in], B [out, r]; `saved` (here `(lora_in,)`; a backend may keep more)
        goes to `lora_linear_backward`."""
        h = x if dropped_x is None else dropped_x
        lora_in = self.mul(self.matmul(h, lora_A, transpose_b=True), scaling)
        return self.add(self.linear(x, weight, bias),
                        self.matmul(lora_in, lora_B, transpose_b=True)), (lora_in,)

    def lora_linear_backward(
        self, grad: Array, x: Array | None, weight: Array, lora_A: Array, lora_B: Array,
        scaling: float, saved: tuple[Array, ...] | None, dropped_x: Array | None,
        need: tuple[bool, bool, bool, bool, bool, bool], into: Array | None = None,
    ) -> tuple[Array | None, ...]:
        """(d x, d weight, d bias, d A, d B, d dropped_x) of `lora_linear`, grad 2-d;
        `need` says which to compute; `saved` is what `lora_linear` returned. Without
        `dropped_x`, d x takes both branches; `into`, when given, is added to d x.
        `x` may be None unless d weight (or, without dropout, d A) is needed."""
        need_x, need_w, need_bias, need_a, need_b, need_h = need
        lora_x = need_h or (need_x and dropped_x is None)  # the LoRA branch's input grad
        g_b = self.mul(self.matmul(grad, lora_B), scaling) if lora_x or need_a else None
        dx = self.matmul(grad, weight) if need_x else None
        dh = self.matmul(g_b, lora_A) if lora_x else None
        if dropped_x is None and need_x:
            dx, dh = self.add(dx, dh), None
        if into is not None and dx is not None:
            dx = self.add(into, dx)
        h = x if dropped_x is None else dropped_x
        d_a = self.matmul(g_b, h, transpose_a=True) if need_a else None
        d_b = self.matmul(grad, saved[0], transpose_a=True) if need_b else None
        dw = self.matmul(grad, x, transpose_a=True) if need_w else None
        d_bias = self.sum(grad, [0]) if need_bias else None
        return dx, dw, d_bias, d_a, d_b, dh

    def grouped_linear(
        self, x: Array, members: Sequence[tuple],
    ) -> tuple[Array, tuple]:
        """(y, saved) of projections sharing the 2-d input x [tokens, in]: y is the
        concatenation on the last dim of each member's output, a member being
        `(weight, bias, lora_A, lora_B, scaling, dropped_x)`: `linear` when lora_A is
        None, else `lora_linear`. `saved` goes to `grouped_linear_backward`."""
        outs, saved = [], []
        for weight, bias, lora_A, lora_B, scaling, dropped_x in members:
            if lora_A is None:
                outs.append(self.linear(x, weight, bias))
                saved.append(None)
            else:
                y, kept = self.lora_linear(x, weight, bias, lora_A, lora_B, scaling, dropped_x)
                outs.append(y)
                saved.append(kept)
        return self.concat(outs, -1), tuple(saved)

    def grouped_linear_backward(
        self, grad: Array, x: Array | None, members: Sequence[tuple], saved: tuple,
        need: tuple[bool, Sequence[tuple[bool, ...]]], into: Array | None = None,
    ) -> tuple[Array | None, list[tuple[Array | None, ...]]]:
        """(d x, per member (d weight, d bias, d A, d B, d dropped_x)) of
        `grouped_linear`, grad 2-d; `need` is (d x, per member those five flags); `into`,
        when given, is added to d x. `x` may be None unless a d weight (or, without
        dropout, a d A) is needed."""
        need_x, member_need = need
        dx, grads, start = into, [], 0
        for member, kept, flags in zip(members, saved, member_need):
            weight, bias, lora_A, lora_B, scaling, dropped_x = member
            out = self.shape(weight)[0]
            g = self.slice(grad, (slice(None), slice(start, start + out)))
            start += out
            if lora_A is None:
                d, dw, db = self.linear_backward(g, x, weight, (need_x, *flags[:2]), into=dx)
                grads.append((dw, db, None, None, None))
            else:
                d, *rest = self.lora_linear_backward(g, x, weight, lora_A, lora_B, scaling,
                                                     kept, dropped_x, (need_x, *flags),
                                                     into=dx)
                grads.append(tuple(rest))
            dx = d if need_x else None
        return dx, grads

    # ------------------------------------------------------------------ nn primitives
    @abc.abstractmethod
    def embedding(self, ids: Array, weight: Array) -> Array: ...

    @abc.abstractmethod
    def embedding_backward(self, grad: Array, ids: Array, weight: Array) -> Array:
        """Gradient of the embedding table (shaped like `weight`): rows of `grad` summed per id.

        `weight` supplies the table's shape (ttnn's embedding_bw takes the table itself).
        """

    @abc.abstractmethod
    def rms_norm(self, x: Array, weight: Array | None, eps: float) -> tuple[Array, Array]:
        """(y, rstd) normalising over the last dim; rstd keeps a trailing dim of 1."""

    @abc.abstractmethod
    def rms_norm_backward(
        self, grad: Array, x: Array, weight: Array | None, rstd: Array, need_weight: bool = True,
        into: Array | None = None,
    ) -> tuple[Array, Array | None]:
        """(dx, dweight); dweight is None without a weight or when `need_weight` is False
        (a frozen norm); `into`, when given, is added to dx (`Function.accumulates`)."""

    @abc.abstractmethod
    def layer_norm(
        self, x: Array, weight: Array | None, bias: Array | None, eps: float
    ) -> tuple[Array, Array, Array]:
        """(y, mean, rstd) over the last dim."""

    @abc.abstractmethod
    def layer_norm_backward(
        self, grad: Array, x: Array, weight: Array | None, mean: Array, rstd: Array
    ) -> tuple[Array, Array | None, Array | None]: ...

    @abc.abstractmethod
    def softmax(self, x: Array, dim: int) -> Array: ...

    @abc.abstractmethod
    def softmax_backward(self, grad: Array, y: Array, dim: int) -> Array: ...

    @abc.abstractmethod
    def log_softmax(self, x: Array, dim: int) -> Array: ...

    @abc.abstractmethod
    def log_softmax_backward(self, grad: Array, y: Array, dim: int) -> Array: ...

    def split_qkv_heads(self, qkv: Array, batch: int, num_heads: int,
                        num_kv_heads: int) -> tuple[Array, Array, Array]:
        """The fused token stream qkv [B * S, (H + 2 KV) * D] (q heads, then k heads, then
        v heads: HF order) as q [B, H, S, D], k and v [B, KV, S, D]."""
        tokens, width = self.shape(qkv)
        heads = num_heads + 2 * num_kv_heads
        x = self.reshape(qkv, (batch, tokens // batch, heads, width // heads))
        x = self.permute(x, (0, 2, 1, 3))
        bounds = (0, num_heads, num_heads + num_kv_heads, heads)
        return tuple(self.slice(x, (slice(None), slice(start, stop)))
                     for start, stop in zip(bounds, bounds[1:]))

    def merge_heads(self, x: Array) -> Array:
        """[B, H, S, D] -> the token stream [B * S, H * D] (heads side by side)."""
        batch, heads, seq, width = self.shape(x)
        return self.reshape(self.permute(x, (0, 2, 1, 3)), (batch * seq, heads * width))

    def split_heads(self, x: Array, batch: int, num_heads: int) -> Array:
        """`merge_heads` undone: [B * S, H * D] -> [B, H, S, D]."""
        tokens, width = self.shape(x)
        x = self.reshape(x, (batch, tokens // batch, num_heads, width // num_heads))
        return self.permute(x, (0, 2, 1, 3))

    @abc.abstractmethod
    def rotary(self, x: Array, cos: Array, sin: Array) -> Array:
        """HF Llama rotary embedding: x * cos + rotate_half(x) * sin.

        x is [B, H, S, D]; cos/sin broadcast to it. The backward is `rotary_backward`.
        """

    @abc.abstractmethod
    def rotary_backward(self, grad: Array, cos: Array, sin: Array) -> Array:
        """The gradient of `rotary` wrt x: `rotary(grad, cos, -sin)`, because the rotation
        is orthogonal (a backend may keep the negated table across layers)."""

    @abc.abstractmethod
    def sdpa(
        self,
        q: Array,
        k: Array,
        v: Array,
        mask: Array | None,
        is_causal: bool,
        scale: float,
        need_logsumexp: bool = True,
    ) -> tuple[Array, Array | None]:
        """Scaled dot-product attention -> (out, logsumexp).

        q is [B, H, S, D]; k, v are [B, Hkv, S_k, D] with H a multiple of Hkv (GQA).
        `mask` is additive and broadcasts to [B, H, S, S_k]. With `need_logsumexp`
        False (no backward will run) a backend may use a forward-only fused kernel and
        return None for the logsumexp; one whose `sdpa_backward` recomputes the
        probabilities (tt) returns None always.
        """

    @abc.abstractmethod
    def sdpa_backward(
        self,
        grad: Array,
        q: Array,
        k: Array,
        v: Array,
        out: Array,
        logsumexp: Array,
        mask: Array | None,
        is_causal: bool,
        scale: float,
    ) -> tuple[Array, Array, Array]: ...

    @abc.abstractmethod
    def cross_entropy(
        self, logits: Array, target: Array, ignore_index: int, reduction: str
    ) -> tuple[Array, Array]:
        """(loss, logsumexp) for logits [N, V] and int targets [N].

        The logsumexp is handed back to `cross_entropy_backward` only; a backend that
        recomputes it there (fused log-softmax kernels) may return None instead.
        """

    @abc.abstractmethod
    def cross_entropy_backward(
        self,
        grad: Array,
        logits: Array,
        target: Array,
        logsumexp: Array,
        ignore_index: int,
        reduction: str,
    ) -> Array: ...

    @abc.abstractmethod
    def dropout_mask(self, shape: Shape, p: float, seed: int, dtype: torch.dtype) -> Array:
        """Keep-mask already scaled by 1/(1-p), from a seeded generator."""

    # ------------------------------------------------------------------ optimizers
    @abc.abstractmethod
    def adamw_step(
        self,
        params: list[Array],
        grads: list[Array],
        exp_avgs: list[Array],
        exp_avg_sqs: list[Array],
        step: int,
        lr: float,
        beta1: float,
        beta2: float,
        eps: float,
        weight_decay: float,
    ) -> None:
        """In-place AdamW update (decoupled weight decay), torch.optim semantics."""

    @abc.abstractmethod
    def sgd_step(
        self,
        params: list[Array],
        grads: list[Array],
        momentum_buffers: list[Array | None],
        lr: float,
        momentum: float,
        dampening: float,
        nesterov: bool,
        weight_decay: float,
    ) -> list[Array | None]:
        """In-place SGD update; returns the (possibly new) momentum buffers."""

    @abc.abstractmethod
    def global_norm(self, arrays: list[Array], norm_type: float) -> Array:
        """The norm of all arrays taken together, as a 0-d array."""

    @abc.abstractmethod
    def scale_(self, arrays: list[Array], factor: Array) -> None:
        """Multiply each array in place by the 0-d `factor`."""

    @abc.abstractmethod
    def copy_(self, dst: Array, src: Array) -> None:
        """Overwrite `dst` with `src` in place (same shape)."""
