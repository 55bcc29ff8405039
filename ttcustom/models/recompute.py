"""Activation recomputation ("gradient checkpointing" in transformers): run a block without keeping its activations, recompute in backward.

The block's output is one graph node whose backward re-runs the block with grad enabled
and back-propagates through that fresh graph. Parameter gradients accumulate straight
into `.grad` from the inner backward; the trainable parameters are also passed to the
node so it is recorded even when its input needs no gradient (frozen embeddings + LoRA).
Dropout draws its seeds from ttcustom's generator, whose state is replayed.
"""

from __future__ import annotations

from collections.abc import Callable

from ttcustom import random as _random
from ttcustom.autograd.function import Function, enable_grad, no_grad
from ttcustom.autograd.tensor import Tensor
from ttcustom.nn.module import Module


class _Recompute(Function):
    @staticmethod
    def forward(ctx, x, *param_arrays, run, replay_rng):
        ctx.run = run
        ctx.rng = _random.get_rng_state() if replay_rng else None
        ctx.save_for_backward(x)
        with no_grad():
            return run(Tensor(x, ctx.backend)).data

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved
        backend = ctx.backend
        current = None
        if ctx.rng is not None:
            current = _random.get_rng_state()
            _random.set_rng_state(ctx.rng)
        try:
            with enable_grad():
                x_leaf = Tensor(x, backend, requires_grad=ctx.needs_input_grad[0])
                out = ctx.run(x_leaf)
        finally:
            if current is not None:
                _random.set_rng_state(current)
        if out.requires_grad:
            out.backward(Tensor(grad, backend))
        dx = x_leaf.grad.data if x_leaf.grad is not None else None
        return (dx,) + (None,) * (len(ctx.needs_input_grad) - 1)


def recompute(block: Module, x: Tensor, run: Callable[[Tensor], Tensor],
               replay_rng: bool = False) -> Tensor:
    """`run(x)` (a call of `block`) without saving its activations for backward."""
    trainable = [p for p in block.parameters() if p.requires_grad]
    return _Recompute.apply(x, *trainable, run=run, replay_rng=replay_rng)


__all__ = ["recompute"]
