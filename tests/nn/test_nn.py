"""Module API (registration, state_dict, modes, moves) and layers against torch.nn."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ttcustom as tc
from tests.helpers import FP32_TOL, assert_close


class Block(tc.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = tc.nn.Linear(4, 3)
        self.norm = tc.nn.LayerNorm(3)
        self.layers = tc.nn.ModuleList([tc.nn.Linear(3, 3, bias=False) for _ in range(2)])
        self.register_buffer("scale", tc.ones(3))
        self.register_buffer("cache", tc.zeros(2), persistent=False)

    def forward(self, x):
        x = self.norm(self.fc(x)) * self.scale
        for layer in self.layers:
            x = layer(x)
        return x


def test_parameters_and_buffers_are_registered_with_dotted_names():
    block = Block()
    assert [n for n, _ in block.named_parameters()] == [
        "fc.weight", "fc.bias", "norm.weight", "norm.bias", "layers.0.weight", "layers.1.weight"]
    # torch's order: a module's own tensors first, then its children's
    assert list(block.state_dict()) == [
        "scale", "fc.weight", "fc.bias", "norm.weight", "norm.bias", "layers.0.weight",
        "layers.1.weight"]
    assert [n for n, _ in block.named_buffers()] == ["scale", "cache"]
    assert all(p.requires_grad for p in block.parameters())
    assert len(list(block.modules())) == 6


def test_shared_parameter_appears_once_in_parameters_but_under_both_names_in_state_dict():
    class Tied(tc.nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = tc.nn.Embedding(10, 4)
            self.head = tc.nn.Linear(4, 10, bias=False)
            self.head.weight = self.emb.weight

    tied = Tied()
    assert len(list(tied.parameters())) == 1
    assert list(tied.state_dict()) == ["emb.weight", "head.weight"]


def test_load_state_dict_round_trip_from_tc_torch_and_numpy():
    src, dst = Block(), Block()
    dst.load_state_dict(src.state_dict())
    for (name, a), b in zip(src.state_dict().items(), dst.state_dict().values()):
        assert torch.equal(a.to_torch(), b.to_torch()), name
    host = {k: v.to_torch() * 2 for k, v in src.state_dict().items()}
    dst.load_state_dict(host)
    assert torch.equal(dst.fc.weight.to_torch(), host["fc.weight"])
    dst.load_state_dict({k: v.numpy() for k, v in host.items()})
    assert torch.equal(dst.norm.bias.to_torch(), host["norm.bias"])


def test_load_state_dict_names_missing_unexpected_and_mis_shaped_keys():
    block = Block()
    state = {k: v.to_torch() for k, v in block.state_dict().items()}
    del state["fc.bias"]
    state["extra.weight"] = torch.zeros(1)
    with pytest.raises(KeyError, match=r"missing keys: fc\.bias.*unexpected keys: extra\.weight"):
        block.load_state_dict(state)
    result = block.load_state_dict(state, strict=False)
    assert result.missing_keys == ["fc.bias"] and result.unexpected_keys == ["extra.weight"]
    state["fc.weight"] = torch.zeros(5, 4)
    with pytest.raises(ValueError, match=r"'fc\.weight'.*\(5, 4\).*\(3, 4\)"):
        block.load_state_dict(state, strict=False)


def test_train_eval_requires_grad_and_zero_grad():
    block = Block()
    block.eval()
    assert not any(m.training for m in block.modules())
    block.train()
    assert all(m.training for m in block.modules())
    block.requires_grad_(False)
    assert not any(p.requires_grad for p in block.parameters())
    block.requires_grad_(True)
    block(tc.randn(2, 4)).sum().backward()
    assert all(p.grad is not None for p in block.parameters())
    block.zero_grad()
    assert all(p.grad is None for p in block.parameters())


def test_to_dtype_casts_floating_parameters_in_place():
    block = Block()
    params = list(block.parameters())
    block.to(torch.bfloat16)
    assert all(p.dtype == torch.bfloat16 for p in block.parameters())
    assert list(block.parameters()) == params  # same objects: optimizers keep working


def test_apply_visits_children_first_like_torch():
    visited = []
    Block().apply(lambda m: visited.append(type(m).__name__))
    assert visited[-1] == "Block" and visited[0] == "Linear"


def test_linear_embedding_norm_layers_match_torch_nn_after_copying_weights():
    x = torch.randn(2, 5, 6)
    ids = torch.tensor([[0, 3, 7], [2, 2, 9]])
    pairs = [
        (tc.nn.Linear(6, 4), torch.nn.Linear(6, 4), x),
        (tc.nn.LayerNorm(6), torch.nn.LayerNorm(6), x),
        (tc.nn.RMSNorm(6, eps=1e-6), torch.nn.RMSNorm(6, eps=1e-6), x),
        (tc.nn.Embedding(10, 6), torch.nn.Embedding(10, 6), ids),
    ]
    for ours, theirs, inp in pairs:
        ours.load_state_dict({k: v.detach() for k, v in theirs.state_dict().items()})
        out = ours(tc.tensor(inp))
        ref = theirs(inp)
        assert_close(out.to_torch(), ref.detach(), FP32_TOL, type(ours).__name__)


def test_linear_init_equals_torch_linear_init_for_the_same_seed():
    tc.manual_seed(3)
    ours = tc.nn.Linear(7, 5)
    torch.manual_seed(3)
    theirs = torch.nn.Linear(7, 5)
    assert torch.equal(ours.weight.to_torch(), theirs.weight.detach())
    assert torch.equal(ours.bias.to_torch(), theirs.bias.detach())


def test_sequential_and_module_dict():
    seq = tc.nn.Sequential(tc.nn.Linear(3, 4), tc.nn.SiLU(), tc.nn.Linear(4, 2))
    assert seq(tc.randn(5, 3)).shape == (5, 2)
    assert len(seq) == 3 and isinstance(seq[1], tc.nn.SiLU)
    md = tc.nn.ModuleDict({"a": tc.nn.Linear(2, 2)})
    assert "a" in md and [n for n, _ in md.named_parameters()] == ["a.weight", "a.bias"]


def test_module_without_super_init_gets_a_clear_error():
    class Broken(tc.nn.Module):
        def __init__(self):
            self.fc = tc.nn.Linear(2, 2)

    with pytest.raises(AttributeError, match="super"):
        Broken()


def test_numpy_and_interop():
    t = tc.tensor(np.arange(6, dtype=np.float32).reshape(2, 3))
    assert t.shape == (2, 3) and t.dtype == torch.float32
    assert t.numpy().tolist() == [[0, 1, 2], [3, 4, 5]]
    assert tc.tensor([1.0, 2.0]).dtype == torch.float32
