"""Test helpers: run the same computation in ttcustom and in torch.autograd."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

import ttcustom as tc

FP32_TOL = dict(rtol=1e-5, atol=1e-5)
# bf16 has an 8-bit mantissa: one rounding is ~4e-3 relative; a few chained ops stay
# within 2e-2 of a float64 torch reference.
BF16_TOL = dict(rtol=2e-2, atol=2e-2)


def grads_of(
    tc_fn: Callable[..., tc.Tensor],
    torch_fn: Callable[..., torch.Tensor],
    inputs: Sequence[torch.Tensor],
    differentiable: Sequence[bool] | None = None,
    dtype: torch.dtype = torch.float32,
):
    """Forward and backward of both; returns ((tc_out, tc_grads), (torch_out, torch_grads)).

    The torch side runs in float64 from the same values, so it is the exact reference.
    """
    differentiable = differentiable or [x.is_floating_point() for x in inputs]
    tc_inputs = [
        tc.tensor(x, dtype=dtype if x.is_floating_point() else None, requires_grad=d)
        for x, d in zip(inputs, differentiable)
    ]
    ref_inputs = [
        (x.to(dtype).double() if x.is_floating_point() else x).requires_grad_(d)
        for x, d in zip(inputs, differentiable)
    ]
    ref_out = torch_fn(*ref_inputs)
    out = tc_fn(*tc_inputs)
    upstream = torch.randn(ref_out.shape, dtype=torch.float64).to(dtype)
    ref_out.backward(upstream.double())
    out.backward(tc.tensor(upstream, dtype=dtype))
    tc_grads = [t.grad.to_torch() if d else None for t, d in zip(tc_inputs, differentiable)]
    ref_grads = [t.grad if d else None for t, d in zip(ref_inputs, differentiable)]
    return (out.to_torch(), tc_grads), (ref_out.detach(), ref_grads)


def assert_close(actual: torch.Tensor, expected: torch.Tensor, tol: dict, what: str) -> None:
    torch.testing.assert_close(
        actual.double(), expected.double(), msg=lambda m: f"{what}: {m}", **tol
    )
