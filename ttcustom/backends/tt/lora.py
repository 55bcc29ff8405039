"""tt LoRA linear, forward and backward (`LoRAOps`): the base product and the LoRA
branch's meet fused into `ttnn.addmm`, the bias into the LoRA product's `ttnn.linear`.

Per call, 2-d x [tokens, in], A [r, in], B [out, r], r not a multiple of 32:

- forward: A and B with their tile padding zeroed (kept for the backward),
  lora_in = x A^T * s, lora = lora_in B^T + b, y = addmm(lora, x, W^T) with the frozen
  weight's [in, out] copy (`FrozenLayouts`): 6 ttnn calls (5 when s is 1);
- backward: g_b = g B * s, d A = g_b^T x, d B = g^T lora_in,
  d x = addmm(g W, g_b, A) (`addmm(into, g, W)` first when x's gradient is already
  pending): 6 ttnn calls (5 when s is 1).

The products over r (lora_in B^T, g_b A) need zero tile padding in both operands. A
matmul computes whole 32 x 32 tiles, so lora_in = x A^T has zero padding columns when A
has zero padding rows, and g_b = g B when B has zero padding columns: zeroing A and B
once per forward serves all four products, where zeroing each operand would take four.

`ttnn.addmm` is one host call that runs the matmul and an in-place add (and a multiply
for an alpha other than 1, never asked for here) on the device: tt-metal's matmul.cpp,
AddmmOperation::invoke (the wheel ships no matmul C++; its validate() messages are in
_ttnncpp.so). Its operands are 2-d; the addend has the product's shape [tokens, out].
"""

from __future__ import annotations

from typing import Any

Array = Any


class LoRAOps:
    """TTBackend's LoRA linear primitives (2-d inputs)."""

    def lora_linear(self, x, weight, bias, lora_A, lora_B, scaling, dropped_x=None):
        T = self.ttnn
        h = x if dropped_x is None else dropped_x
        # A and B with their tile padding zeroed, once: every product over r reads them
        # (x A^T and g B inherit the zero padding), so no activation needs a fill
        lora_A, lora_B = self._contractable(lora_A, -2), self._contractable(lora_B, -1)
        lora_in = _scaled(self, self.matmul(h, lora_A, transpose_b=True), scaling)
        if bias is not None:
            bias = self.reshape(bias, (1, self.shape(bias)[0]))
        lora = T.linear(lora_in, lora_B, bias=bias, transpose_b=True,
                        compute_kernel_config=self.kernel_config)
        laid_out = self.frozen.get(weight)
        if laid_out is None:  # a trained base weight: no [in, out] copy is kept
            y = self.add(lora, self.matmul(x, weight, transpose_b=True))
        else:
            y = T.addmm(lora, self._contractable(x, -1), laid_out,
                        compute_kernel_config=self.kernel_config)
        return y, (lora_in, lora_A, lora_B)

    def lora_linear_backward(self, grad, x, weight, lora_A, lora_B, scaling, saved,
                             dropped_x, need, into=None):
        T = self.ttnn
        need_x, need_w, need_bias, need_a, need_b, need_h = need
        if saved is not None:  # A and B with zeroed padding (lora_linear)
            lora_in, lora_A, lora_B = saved
        lora_x = need_h or (need_x and dropped_x is None)
        g_b = None
        if lora_x or need_a:  # g B: zero padding from B's, as A's product needs
            g_b = _scaled(self, self.matmul(grad, lora_B), scaling)
        dx = self.matmul_into(into, grad, weight) if need_x else None
        dh = None
        if lora_x:
            if dropped_x is None:
                dx = T.addmm(dx, g_b, lora_A, compute_kernel_config=self.kernel_config)
            else:
                dh = T.matmul(g_b, lora_A, compute_kernel_config=self.kernel_config)
        h = x if dropped_x is None else dropped_x
        d_a = self.matmul(g_b, h, transpose_a=True) if need_a else None
        d_b = self.matmul(grad, lora_in, transpose_a=True) if need_b else None
        dw = self.matmul(grad, x, transpose_a=True) if need_w else None
        d_bias = self._sum(grad, [0], keepdim=False) if need_bias else None
        return dx, dw, d_bias, d_a, d_b, dh


def _scaled(bk: Any, a: Array, scaling: float) -> Array:
    """`a` * scaling; `a` itself for alpha == r (PEFT's default r = lora_alpha = 8)."""
    return a if scaling == 1.0 else bk.mul(a, scaling)
