"""The reference backend: every primitive on torch (CPU or CUDA).

It is the embedded default without a Tenstorrent card and the golden model of the tt
backend. Primitives call torch's fused kernels (the same ones torch's own autograd
uses) so a ttcustom step costs what a PyTorch eager step costs.
"""

from __future__ import annotations

import builtins
import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from ttcustom.backends.base import Array, Backend, Shape

_aten = torch.ops.aten


def _expand_kv(x: torch.Tensor, num_heads: int) -> torch.Tensor:
    """[B, Hkv, S, D] -> [B, H, S, D] by repeating each kv head H/Hkv times (GQA)."""
    groups = num_heads // x.shape[1]
    return x if groups == 1 else x.repeat_interleave(groups, dim=1)


def _reduce_kv(grad: torch.Tensor, kv_heads: int) -> torch.Tensor:
    """Inverse of `_expand_kv` for gradients: sum over each group of query heads."""
    b, h, s, d = grad.shape
    return grad if h == kv_heads else grad.view(b, kv_heads, h // kv_heads, s, d).sum(2)


#: elements of one parameter group of the CPU optimizer step (1 MiB per fp32 array)
CPU_OPTIMIZER_GROUP = 1 << 18


def _groups_of(arrays: list[torch.Tensor], budget: int | None) -> list[slice]:
    """Consecutive ranges of `arrays` of about `budget` elements each (one range for
    all when `budget` is None); an array larger than the budget gets a range alone."""
    if budget is None:
        return [slice(0, len(arrays))]
    groups, start, count = [], 0, 0
    for i, array in enumerate(arrays):
        if count and count + array.numel() > budget:
            groups.append(slice(start, i))
            start, count = i, 0
        count += array.numel()
    groups.append(slice(start, len(arrays)))
    return groups


def _adamw_update(params, grads, exp_avgs, exp_avg_sqs, step, lr, beta1, beta2, eps,
                  weight_decay) -> None:
    """torch.optim.AdamW's update of a list of parameters, in place.

    `step` and `lr` are numbers, or 0-d tensors in a compiled captured step (so a new
    value each step does not recompile it).
    """
    if weight_decay != 0:
        torch._foreach_mul_(params, 1 - lr * weight_decay)
    torch._foreach_lerp_(exp_avgs, grads, 1 - beta1)
    torch._foreach_mul_(exp_avg_sqs, beta2)
    torch._foreach_addcmul_(exp_avg_sqs, grads, grads, 1 - beta2)
    step_size = lr / (1 - beta1**step)
    bias_correction2_sqrt = ((1 - beta2**step).sqrt() if isinstance(step, torch.Tensor)
                             else math.sqrt(1 - beta2**step))
    denom = torch._foreach_sqrt(exp_avg_sqs)
    torch._foreach_div_(denom, bias_correction2_sqrt)
    torch._foreach_add_(denom, eps)
    if isinstance(step_size, torch.Tensor):
        torch._foreach_div_(denom, step_size)
        torch._foreach_sub_(params, torch._foreach_div(exp_avgs, denom))
    else:
        torch._foreach_addcdiv_(params, exp_avgs, denom, -step_size)


_FLASH_TAKES_GQA: list[bool] = []  # memo (a global list, read as a constant under torch.compile)


def _flash_cpu_takes_gqa() -> bool:
    """Whether torch's CPU flash-attention kernels take fewer k/v heads than query heads
    (recent torch), so grouped-query attention needs no repeated copies of k and v."""
    if not _FLASH_TAKES_GQA:
        q, kv = torch.ones(1, 2, 1, 8), torch.ones(1, 1, 1, 8)
        try:
            out, lse = _aten._scaled_dot_product_flash_attention_for_cpu(q, kv, kv, 0.0, False)
            grads = _aten._scaled_dot_product_flash_attention_for_cpu_backward(
                q, q, kv, kv, out, lse, 0.0, False)
            _FLASH_TAKES_GQA.append(out.shape == q.shape and grads[1].shape == kv.shape)
        except RuntimeError:
            _FLASH_TAKES_GQA.append(False)
    return _FLASH_TAKES_GQA[0]


def _rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor,
            sign: float) -> torch.Tensor:
    """x * cos + sign * cat(-x2, x1) * sin, without materialising the rotated copy."""
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    out = x * cos
    out[..., :half].addcmul_(x2, sin[..., :half], value=-sign)
    out[..., half:].addcmul_(x1, sin[..., half:], value=sign)
    return out


class ReferenceBackend(Backend):
    """torch on `device` ("cpu" or "cuda[:N]")."""

    def __init__(self, device: str = "cpu") -> None:
        super().__init__()
        self.device = torch.device(device)
        self.name = "cuda" if self.device.type == "cuda" else "cpu"

    def __repr__(self) -> str:
        return f"ReferenceBackend(device={str(self.device)!r})"

    def describe(self) -> dict:
        info = {"backend": self.name, "device": str(self.device), "torch": torch.__version__}
        if self.device.type == "cuda":
            info["gpu"] = torch.cuda.get_device_name(self.device)
        else:
            info["threads"] = torch.get_num_threads()
        return info

    def compile_program(self, program, compile):
        if not compile:
            return program.function
        from ttcustom.backends.reference_compile import compiled_runner

        return compiled_runner(program, self.device)

    # ----------------------------------------------------------------- data movement
    def upload(self, value: torch.Tensor, dtype: torch.dtype | None = None,
               shard_dim: int | None = None) -> Array:
        self.transfers.uploads += 1
        return value.detach().to(device=self.device, dtype=dtype or value.dtype)

    def download(self, a: Array) -> torch.Tensor:
        self.transfers.downloads += 1
        return a.detach().cpu()

    def shape(self, a: Array) -> Shape:
        return tuple(a.shape)

    def dtype(self, a: Array) -> torch.dtype:
        return a.dtype

    def cast(self, a: Array, dtype: torch.dtype) -> Array:
        return a.to(dtype)

    def full(self, shape: Shape, value: float, dtype: torch.dtype) -> Array:
        return torch.full(shape, value, dtype=dtype, device=self.device)

    def synchronize(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    # ------------------------------------------------------------------ elementwise
    def add(self, a, b):
        return a + b

    def sub(self, a, b):
        return a - b

    def mul(self, a, b):
        return a * b

    def div(self, a, b):
        return a / b

    def neg(self, a):
        return -a

    def exp(self, a):
        return torch.exp(a)

    def log(self, a):
        return torch.log(a)

    def pow(self, a, exponent):
        return torch.pow(a, exponent)

    def tanh(self, a):
        return torch.tanh(a)

    def clamp(self, a, min=None, max=None):
        return torch.clamp(a, min=min, max=max)

    def silu(self, a):
        return F.silu(a)

    def silu_backward(self, grad, a):
        return _aten.silu_backward(grad, a)

    def gelu(self, a, approximate="none"):
        return F.gelu(a, approximate=approximate)

    def gelu_backward(self, grad, a, approximate="none"):
        return _aten.gelu_backward(grad, a, approximate=approximate)

    def sum_to_shape(self, a, shape):
        if tuple(a.shape) == tuple(shape):
            return a
        lead = a.dim() - len(shape)
        dims = list(range(lead)) + [
            lead + i for i, n in enumerate(shape) if n == 1 and a.shape[lead + i] != 1
        ]
        out = a.sum(dim=dims, keepdim=True) if dims else a
        return out.reshape(shape)

    # ------------------------------------------------------------------ shape ops
    def reshape(self, a, shape):
        return a.reshape(shape)

    def permute(self, a, dims):
        return a.permute(*dims)

    def slice(self, a, index):
        return a[index]

    def slice_backward(self, grad, shape, index):
        out = torch.zeros(shape, dtype=grad.dtype, device=grad.device)
        out[index] = grad
        return out

    def concat(self, arrays, dim):
        return torch.cat(list(arrays), dim=dim)

    # ------------------------------------------------------------------ reductions
    def sum(self, a, dims, keepdim=False):
        return a.sum() if dims is None and not keepdim else a.sum(dim=dims, keepdim=keepdim)

    def expand(self, a, shape):
        # Materialised: a stride-0 view could end up as a .grad updated in place.
        return a.expand(shape).contiguous()

    def storage_id(self, a):
        return a.untyped_storage().data_ptr()

    # ------------------------------------------------------------------ matmul
    def matmul(self, a, b, transpose_a=False, transpose_b=False):
        if transpose_a:
            a = a.transpose(-1, -2)
        if transpose_b:
            b = b.transpose(-1, -2)
        return torch.matmul(a, b)

    def linear(self, x, weight, bias):
        return F.linear(x, weight, bias)

    def linear_backward(self, grad, x, weight, need, into=None):
        grad2d = grad.reshape(-1, grad.shape[-1])
        dx = None
        if need[0]:
            dx = grad @ weight if into is None else into + grad @ weight
        dw = grad2d.t() @ x.reshape(-1, x.shape[-1]) if need[1] else None
        db = grad2d.sum(0) if need[2] else None
        return dx, dw, db

    def lora_linear(self, x, weight, bias, lora_A, lora_B, scaling, dropped_x=None):
        """The LoRA product added by torch.addmm (no separate [tokens, out] buffer)."""
        h = x if dropped_x is None else dropped_x
        lora_in = torch.mm(h, lora_A.t()).mul_(scaling)
        return torch.addmm(F.linear(x, weight, bias), lora_in, lora_B.t()), (lora_in,)

    def lora_linear_backward(self, grad, x, weight, lora_A, lora_B, scaling, saved,
                             dropped_x, need, into=None, g_b=None):
        """d x = grad W + (grad B * scaling) A in one torch.addmm without dropout; `g_b`,
        grad B * scaling, when the caller has it (`grouped_linear_backward`)."""
        need_x, need_w, need_bias, need_a, need_b, need_h = need
        lora_x = need_h or (need_x and dropped_x is None)
        if g_b is None and (lora_x or need_a):
            g_b = torch.mm(grad, lora_B).mul_(scaling)
        dx = dh = None
        if need_x:
            dx = grad @ weight if dropped_x is not None else torch.addmm(grad @ weight, g_b, lora_A)
            dx = dx if into is None else into + dx
        if need_h:
            dh = g_b @ lora_A
        h = x if dropped_x is None else dropped_x
        d_a = g_b.t() @ h if need_a else None
        d_b = grad.t() @ saved[0] if need_b else None
        dw = grad.t() @ x if need_w else None
        d_bias = grad.sum(0) if need_bias else None
        return dx, dw, d_bias, d_a, d_b, dh

    def grouped_linear(self, x, members):
        """One [tokens, O] output: each member's base product written into its columns
        and its LoRA product added there in place (no per-member outputs, no
        concatenation copy)."""
        out = x.new_empty(x.shape[0], builtins.sum(m[0].shape[0] for m in members))
        saved, start = [], 0
        for weight, bias, lora_A, lora_B, scaling, dropped_x in members:
            view = out[:, start:start + weight.shape[0]]
            start += weight.shape[0]
            if bias is None:
                torch.mm(x, weight.t(), out=view)
            else:
                torch.addmm(bias, x, weight.t(), out=view)
            if lora_A is None:
                saved.append(None)
                continue
            lora_in = torch.mm(x if dropped_x is None else dropped_x, lora_A.t()).mul_(scaling)
            view.addmm_(lora_in, lora_B.t())
            saved.append((lora_in,))
        return out, tuple(saved)

    def grouped_linear_backward(self, grad, x, members, saved, need, into=None):
        """d x summed in one buffer by in-place addmm (both branches of each member);
        the members' other gradients as `lora_linear_backward` computes them."""
        need_x, member_need = need
        dx, grads, start = None, [], 0
        for member, kept, flags in zip(members, saved, member_need):
            weight, _, lora_A, lora_B, scaling, dropped_x = member
            g = grad[:, start:start + weight.shape[0]]
            start += weight.shape[0]
            if need_x:
                dx = (torch.mm(g, weight) if into is None else torch.addmm(into, g, weight)) \
                    if dx is None else dx.addmm_(g, weight)
            if lora_A is None:
                _, dw, db = self.linear_backward(g, x, weight, (False, *flags[:2]))
                grads.append((dw, db, None, None, None))
                continue
            lora_x = need_x and dropped_x is None
            g_b = torch.mm(g, lora_B).mul_(scaling) if lora_x or flags[2] or flags[4] else None
            if lora_x:
                dx.addmm_(g_b, lora_A)
            _, *rest = self.lora_linear_backward(g, x, weight, lora_A, lora_B, scaling, kept,
                                                 dropped_x, (False, *flags), g_b=g_b)
            grads.append(tuple(rest))
        return dx, grads

    # ------------------------------------------------------------------ nn primitives
    def embedding(self, ids, weight):
        return F.embedding(ids, weight)

    def embedding_backward(self, grad, ids, weight):
        return _aten.embedding_dense_backward(grad, ids, weight.shape[0], -1, False)

    def rms_norm(self, x, weight, eps):
        return _aten._fused_rms_norm(x, [x.shape[-1]], weight, eps)

    def rms_norm_backward(self, grad, x, weight, rstd, need_weight=True, into=None):
        # torch has no CPU kernel for _fused_rms_norm_backward; the formula, in fp32:
        # dx = rstd * (g - x_hat * mean(g * x_hat)), g = grad * weight.
        x_hat = x.float() * rstd
        grad32 = grad.float()
        g = grad32 * weight.float() if weight is not None else grad32
        dx = rstd * (g - x_hat * (g * x_hat).mean(-1, keepdim=True))
        dw = None
        if weight is not None and need_weight:
            dw = (grad32 * x_hat).reshape(-1, x.shape[-1]).sum(0).to(weight.dtype)
        dx = dx.to(x.dtype)
        return (dx if into is None else into + dx), dw

    def layer_norm(self, x, weight, bias, eps):
        return _aten.native_layer_norm(x, [x.shape[-1]], weight, bias, eps)

    def layer_norm_backward(self, grad, x, weight, mean, rstd):
        mask = [True, weight is not None, weight is not None]
        # The kernel reads only the bias's shape (to size d bias); its values are unused.
        dx, dw, db = _aten.native_layer_norm_backward(
            grad, x, [x.shape[-1]], mean, rstd, weight, weight, mask
        )
        return dx, dw, db

    def softmax(self, x, dim):
        return torch.softmax(x, dim)

    def softmax_backward(self, grad, y, dim):
        return _aten._softmax_backward_data(grad, y, dim, y.dtype)

    def log_softmax(self, x, dim):
        return torch.log_softmax(x, dim)

    def log_softmax_backward(self, grad, y, dim):
        return _aten._log_softmax_backward_data(grad, y, dim, y.dtype)

    def split_qkv_heads(self, qkv, batch, num_heads, num_kv_heads):
        tokens, width = qkv.shape
        heads = num_heads + 2 * num_kv_heads
        x = qkv.reshape(batch, tokens // batch, heads, width // heads).transpose(1, 2)
        return x.split([num_heads, num_kv_heads, num_kv_heads], dim=1)  # views of qkv

    def merge_heads(self, x):
        batch, heads, seq, width = x.shape
        return x.transpose(1, 2).reshape(batch * seq, heads * width)

    def split_heads(self, x, batch, num_heads):
        tokens, width = x.shape
        return x.reshape(batch, tokens // batch, num_heads, width // num_heads).transpose(1, 2)

    def rotary(self, x, cos, sin):
        return _rotary(x, cos, sin, 1.0)

    def rotary_backward(self, grad, cos, sin):
        return _rotary(grad, cos, sin, -1.0)

    def sdpa(self, q, k, v, mask, is_causal, scale, need_logsumexp=True):
        flash = self._use_flash_cpu(q, mask)
        if not (flash and _flash_cpu_takes_gqa()):
            heads = q.shape[1]
            k, v = _expand_kv(k, heads), _expand_kv(v, heads)
        if flash:
            return _aten._scaled_dot_product_flash_attention_for_cpu(
                q, k, v, 0.0, is_causal, attn_mask=mask, scale=scale
            )
        probs, lse = self._attention_probs(q, k, mask, is_causal, scale)
        return probs @ v, lse

    def sdpa_backward(self, grad, q, k, v, out, logsumexp, mask, is_causal, scale):
        if self._use_flash_cpu(q, mask) and _flash_cpu_takes_gqa():
            return _aten._scaled_dot_product_flash_attention_for_cpu_backward(
                grad, q, k, v, out, logsumexp, 0.0, is_causal, attn_mask=mask, scale=scale
            )
        heads, kv_heads = q.shape[1], k.shape[1]
        ke, ve = _expand_kv(k, heads), _expand_kv(v, heads)
        if self._use_flash_cpu(q, mask):
            dq, dk, dv = _aten._scaled_dot_product_flash_attention_for_cpu_backward(
                grad, q, ke, ve, out, logsumexp, 0.0, is_causal, attn_mask=mask, scale=scale
            )
        else:
            scores = self._scores(q, ke, mask, is_causal, scale)
            probs = torch.exp(scores - logsumexp.unsqueeze(-1)).to(q.dtype)
            dv = probs.transpose(-1, -2) @ grad
            dprobs = grad @ ve.transpose(-1, -2)
            row_dot = (grad * out).sum(-1, keepdim=True)
            dscores = probs * (dprobs - row_dot)
            dq = (dscores @ ke) * scale
            dk = (dscores.transpose(-1, -2) @ q) * scale
        return dq, _reduce_kv(dk, kv_heads), _reduce_kv(dv, kv_heads)

    def _use_flash_cpu(self, q, mask) -> bool:
        return q.device.type == "cpu" and (mask is None or mask.dtype == q.dtype)

    @staticmethod
    def _scores(q, k, mask, is_causal, scale):
        scores = (q @ k.transpose(-1, -2)).float() * scale
        if mask is not None:
            scores = scores + mask
        if is_causal:
            sq, sk = scores.shape[-2:]
            causal = torch.ones(sq, sk, dtype=torch.bool, device=q.device).triu(1)
            scores = scores.masked_fill(causal, -math.inf)
        return scores

    def _attention_probs(self, q, k, mask, is_causal, scale):
        scores = self._scores(q, k, mask, is_causal, scale)
        lse = torch.logsumexp(scores, dim=-1)
        return torch.exp(scores - lse.unsqueeze(-1)).to(q.dtype), lse

    def cross_entropy(self, logits, target, ignore_index, reduction):
        # torch's fused (log_)softmax kernels take one pass each, logsumexp several; the
        # backward recomputes the softmax rather than keep a logsumexp (returned as None)
        valid = target != ignore_index
        log_probs = torch.log_softmax(logits, dim=-1, dtype=torch.float32)
        picked = log_probs.gather(1, torch.where(valid, target, 0).unsqueeze(1)).squeeze(1)
        losses = torch.where(valid, -picked, 0.0)
        if reduction == "none":
            return losses, None
        total = losses.sum()
        return (total / valid.sum() if reduction == "mean" else total), None

    def cross_entropy_backward(self, grad, logits, target, logsumexp, ignore_index, reduction):
        valid = target != ignore_index
        # the softmax in fp32: one [N, V] buffer, the largest array of an LM's backward
        dlogits = torch.softmax(logits, dim=-1, dtype=torch.float32)
        dlogits.scatter_add_(
            1, torch.where(valid, target, 0).unsqueeze(1), torch.full_like(dlogits[:, :1], -1.0)
        )
        scale = grad if reduction != "mean" else grad / valid.sum()
        weights = torch.where(valid, scale, 0.0)
        dlogits.mul_(weights.unsqueeze(1) if weights.dim() == 1 else weights)
        return dlogits.to(logits.dtype)

    def dropout_mask(self, shape, p, seed, dtype):
        generator = torch.Generator(device=self.device).manual_seed(seed)
        keep = torch.rand(shape, generator=generator, device=self.device) >= p
        return keep.to(dtype) / (1.0 - p)

    # ------------------------------------------------------------------ optimizers
    def adamw_step(
        self, params, grads, exp_avgs, exp_avg_sqs, step, lr, beta1, beta2, eps, weight_decay
    ):
        # On the CPU, update a cache-sized group of parameters at a time (torch's CPU
        # default goes one parameter at a time): its arrays stay in cache through all
        # eight passes, and the sqrt(v) temporary is one group's size, not the model's.
        budget = None if self.device.type == "cuda" else CPU_OPTIMIZER_GROUP
        for group in _groups_of(params, budget):
            _adamw_update(params[group], grads[group], exp_avgs[group], exp_avg_sqs[group],
                          step, lr, beta1, beta2, eps, weight_decay)

    def sgd_step(
        self, params, grads, momentum_buffers, lr, momentum, dampening, nesterov, weight_decay
    ):
        new_buffers = []
        for param, grad, buf in zip(params, grads, momentum_buffers):
            if weight_decay != 0:
                grad = grad.add(param, alpha=weight_decay)
            if momentum != 0:
                if buf is None:
                    buf = grad.clone()
                else:
                    buf.mul_(momentum).add_(grad, alpha=1 - dampening)
                grad = grad.add(buf, alpha=momentum) if nesterov else buf
            if isinstance(lr, torch.Tensor):  # a compiled captured step
                param.sub_(grad * lr)
            else:
                param.add_(grad, alpha=-lr)
            new_buffers.append(buf)
        return new_buffers

    def global_norm(self, arrays, norm_type):
        norms = torch._foreach_norm(arrays, norm_type)
        return torch.linalg.vector_norm(torch.stack(norms), norm_type)

    def scale_(self, arrays, factor):
        torch._foreach_mul_(arrays, factor.to(arrays[0].dtype) if arrays else factor)

    def copy_(self, dst, src):
        dst.copy_(src)


def is_available(device: str) -> bool:
    """Whether the torch device exists on this machine."""
    kind = torch.device(device).type
    return kind == "cpu" or (kind == "cuda" and torch.cuda.is_available())


__all__: Sequence[str] = ["ReferenceBackend", "is_available"]
