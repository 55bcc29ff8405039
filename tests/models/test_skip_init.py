"""`nn.init.skip_init`: modules built inside keep construction zeros (loaders fill them)."""

import torch

import ttcustom as tc
from ttcustom.nn import init


def test_skip_init_leaves_parameters_zero_and_restores_initialisers():
    with init.skip_init():
        skipped = tc.nn.Linear(8, 4)
    after = tc.nn.Linear(8, 4)
    assert torch.equal(skipped.weight.to_torch(), torch.zeros(4, 8))
    assert torch.equal(skipped.bias.to_torch(), torch.zeros(4))
    assert after.weight.to_torch().abs().sum() > 0
