"""tt grouped linear (`GroupedOps`): projections sharing an input (q, k, v) as one base
product and one LoRA product, as ttml runs its fused QKV.

When every member's base weight is frozen and held together (`hold_frozen_group`):
W_cat [in, O] (O = sum of the members' out) and W_cat^T = [O, in] are laid out once
(`FrozenLayouts`; memory: two copies of the members' weights, where members held one by
one keep one [in, out] copy each). The LoRA members (rank r each, one rank for all)
meet in

- A_cat = concat(A_i) [R, in], R = (LoRA members) * r, its tile padding zeroed;
- B_blk [O, R], block-diagonal: member i's rows hold B_i * s_i in its LoRA block's
  columns, zero elsewhere (a plain member's rows are zero). Built per forward as
  concat(B_i) [O, r] repeated along the columns times a constant mask holding s_i,
  padding zeroed: 4 calls (2 with one LoRA member), where per-member LoRA spends
  2 fills and a multiply per member;
- forward: lora_in = x A_cat^T, lora = lora_in B_blk^T + b_cat (`ttnn.linear`; the
  biases, zeros for a member without, concatenated per forward: 2 calls, none without
  biases), y = addmm(lora, x, W_cat): 9 ttnn calls for Llama's q, k, v with LoRA (18 as
  three lora_linear);
- backward: g_b = g B_blk (scaled), d x = addmm(addmm(into, g, W_cat^T), g_b, A_cat),
  d A_cat = g_b^T x sliced per member, d B = (g^T lora_in) * mask sliced per member:
  6 + 2 n calls (12 for q, k, v; 18 as three lora_linear; the mask multiply goes when
  every s is 1); a trained bias's gradient is sliced from the sum of g over tokens.

Padding: the products over R read A_cat's zeroed padding rows and B_blk's zeroed
padding columns; lora_in = x A_cat^T and g_b = g B_blk inherit them (see
`backends.tt.lora`), so no activation needs a fill.

Anything else runs as the per-member ops (`Backend.grouped_linear`), frozen weights
then held one by one: a trained base weight (no layout is kept of it), a LoRA dropout
(each member's A product reads its own dropout(x), so the A products cannot be one),
ranks that differ (B_blk is built by repeating one [O, r] block).
"""

from __future__ import annotations

from typing import Any

from ttcustom.backends.base import Backend
from ttcustom.backends.tt.arrays import TILE

Array = Any
#: first item of what a fused forward saves (the per-member one saves arrays or None)
FUSED = "grouped"


class GroupedOps:
    """TTBackend's grouped linear primitives (2-d inputs)."""

    def hold_frozen_group(self, terms):
        """The weights laid out together when the fused products will serve the group;
        each on its own (`hold_frozen`) for the per-member ops."""
        if fusable([t.lora_A for t in terms], [t.lora_input for t in terms],
                   lambda a: a.shape[0]):
            self.frozen_groups.hold(*(t.weight for t in terms))
        else:
            Backend.hold_frozen_group(self, terms)

    def _group_layout(self, *weights: Array) -> tuple[Array, Array]:
        """(W_cat [in, O], W_cat^T [O, in]), both with zeroed tile padding."""
        rows = self._contractable(self.concat(list(weights), 0), -2)
        return self._linear_layout(rows), rows

    def grouped_linear(self, x, members):
        layout = self._fusable(members)
        if layout is None:
            return Backend.grouped_linear(self, x, members)
        T = self.ttnn
        w_cat, _ = layout
        x = self._contractable(x, -1)
        lora = [m for m in members if m[2] is not None]
        bias = self._bias_row(members)
        if not lora:
            y = T.linear(x, w_cat, bias=bias, compute_kernel_config=self.kernel_config)
            return y, (FUSED, layout)
        a_cat = _zeroed(self, self.concat([m[2] for m in lora], 0))
        lora_in = T.matmul(x, a_cat, transpose_b=True, compute_kernel_config=self.kernel_config)
        mask = self._block_mask(members)
        b_blk = _zeroed(self, T.multiply(self._b_repeated(members, len(lora)), mask))
        y = T.addmm(T.linear(lora_in, b_blk, bias=bias, transpose_b=True,
                             compute_kernel_config=self.kernel_config), x, w_cat,
                    compute_kernel_config=self.kernel_config)
        return y, (FUSED, layout, lora_in, a_cat, b_blk, mask)

    def grouped_linear_backward(self, grad, x, members, saved, need, into=None):
        if not (saved and saved[0] == FUSED):  # the forward ran the per-member ops
            return Backend.grouped_linear_backward(self, grad, x, members, saved, need, into)
        T, kc = self.ttnn, self.kernel_config
        need_x, member_need = need
        _, w_rows = saved[1]
        grad = self._contractable(grad, -1)
        dx = None
        if need_x:
            dx = (T.matmul(grad, w_rows, compute_kernel_config=kc) if into is None
                  else T.addmm(into, grad, w_rows, compute_kernel_config=kc))
        d_bias = self._sum(grad, [0], keepdim=False) if any(f[1] for f in member_need) else None
        d_a = d_b = None
        if len(saved) > 2:  # LoRA members
            lora_in, a_cat, b_blk, mask = saved[2:]
            need_a = any(f[2] for f in member_need)
            g_b = T.matmul(grad, b_blk, compute_kernel_config=kc) if need_x or need_a else None
            if need_x:
                dx = T.addmm(dx, g_b, a_cat, compute_kernel_config=kc)
            d_a = self.matmul(g_b, x, transpose_a=True) if need_a else None
            if any(f[3] for f in member_need):
                d_b = self.matmul(grad, lora_in, transpose_a=True)
                if any(m[4] != 1.0 for m in members if m[2] is not None):
                    d_b = T.multiply(d_b, mask)  # the scalings (B_blk held B_i * s_i)
        return dx, _member_grads(self, members, member_need, d_bias, d_a, d_b)

    def _fusable(self, members) -> tuple[Array, Array] | None:
        """The group's held layout when the fused products serve it, else None."""
        if not fusable([m[2] for m in members], [m[5] for m in members],
                       lambda a: self.shape(a)[0]):
            return None
        return self.frozen_groups.get(*(m[0] for m in members))

    def _bias_row(self, members) -> Array | None:
        """The members' biases (zeros for a member without) as one [1, O] row, or None."""
        if all(m[1] is None for m in members):
            return None
        like = next(m[1] for m in members if m[1] is not None)
        parts = [m[1] if m[1] is not None else self._zeros((self.shape(m[0])[0],), like)
                 for m in members]
        return self.reshape(self.concat(parts, 0), (1, sum(self.shape(p)[0] for p in parts)))

    def _zeros(self, shape: tuple[int, ...], like: Array) -> Array:
        """A zero device constant of `shape` in `like`'s dtype."""
        dtype = self.dtype(like)
        return self.constant(("zeros", shape, dtype), lambda: self.full(shape, 0.0, dtype))

    def _b_repeated(self, members, n_lora: int) -> Array:
        """concat(B_i, zeros for a plain member) [O, r], repeated n_lora times along the
        columns: [O, R]."""
        lora_B = next(m[3] for m in members if m[3] is not None)
        r = self.shape(lora_B)[1]
        rows = [m[3] if m[3] is not None else self._zeros((self.shape(m[0])[0], r), lora_B)
                for m in members]
        b_cat = self.concat(rows, 0)
        return self.concat([b_cat] * n_lora, -1)

    def _block_mask(self, members) -> Array:
        """[O, R]: member i's scaling where its B goes in B_blk, zero elsewhere; built on
        the device from ramps (as `attention.rotate_half_matrix`) once per member
        shapes, scalings and dtype."""
        T = self.ttnn
        outs = tuple(self.shape(m[0])[0] for m in members)
        lora = [(i, m[4]) for i, m in enumerate(members) if m[2] is not None]
        r = self.shape(members[lora[0][0]][2])[0]
        dtype = self.dtype(members[lora[0][0]][3])

        def ramp(n: int, shape: tuple[int, int]) -> Array:
            return self.reshape(T.arange(0, n, 1, dtype=T.float32, device=self.device.mesh,
                                         layout=T.TILE_LAYOUT), shape)

        def make() -> Array:
            rows, cols = ramp(sum(outs), (sum(outs), 1)), ramp(r * len(lora), (1, r * len(lora)))
            mask = None
            for block, (i, scaling) in enumerate(lora):
                start = sum(outs[:i])
                in_rows = T.multiply(T.ge(rows, float(start)), T.lt(rows, float(start + outs[i])))
                in_cols = T.multiply(T.ge(cols, float(block * r)),
                                     T.lt(cols, float((block + 1) * r)))
                part = T.multiply(T.multiply(in_rows, float(scaling)), in_cols)
                mask = part if mask is None else T.add(mask, part)
            return self.cast(mask, dtype)

        return self.constant(("group mask", outs, tuple(lora), r, dtype), make)


def fusable(lora_As: list, lora_inputs: list, rank: Any) -> bool:
    """Whether the fused products serve a group of frozen members with these terms (why
    not, the module docstring): no LoRA dropout, one LoRA rank."""
    ranks = {rank(a) for a in lora_As if a is not None}
    return len(lora_As) > 1 and len(ranks) <= 1 and all(h is None for h in lora_inputs)


def _member_grads(bk: Any, members, member_need, d_bias, d_a, d_b) -> list[tuple]:
    """Per member (None, d bias, d A, d B, None): the needed slices of the group's
    [O] bias, [R, in] A and [O, R] B gradients (frozen weights get none)."""
    grads, row, block = [], 0, 0
    for (weight, _, lora_A, _, _, _), flags in zip(members, member_need):
        out = bk.shape(weight)[0]
        db = bk.slice(d_bias, (slice(row, row + out),)) if flags[1] else None
        da = d_lora_b = None
        if lora_A is not None:
            r = bk.shape(lora_A)[0]
            da = bk.slice(d_a, (slice(block, block + r),)) if flags[2] else None
            if flags[3]:
                d_lora_b = bk.slice(d_b, (slice(row, row + out), slice(block, block + r)))
            block += r
        grads.append((None, db, da, d_lora_b, None))
        row += out
    return grads


def _zeroed(bk: Any, a: Array) -> Array:
    """`a` with its tile padding zeroed when it has any (one fill for both dims)."""
    if all(n % TILE == 0 for n in bk.shape(a)[-2:]):
        return a
    return bk.ttnn.fill_implicit_tile_padding(a, 0.0)
