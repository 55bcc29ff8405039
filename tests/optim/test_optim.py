"""Optimizers, schedules and clipping against torch.optim / transformers, step by step."""

from __future__ import annotations

import pytest
import torch
import transformers

import ttcustom as tc
from tests.helpers import assert_close

SHAPES = [(8, 5), (5,), (3, 4, 2)]
STEP_TOL = dict(rtol=1e-6, atol=1e-6)


def _pair(optim_name, **kwargs):
    host = [torch.randn(s) for s in SHAPES]
    ours = [tc.tensor(h, requires_grad=True) for h in host]
    theirs = [h.clone().requires_grad_() for h in host]
    tc_opt = getattr(tc.optim, optim_name)(ours, **kwargs)
    torch_opt = getattr(torch.optim, optim_name)(theirs, **kwargs)
    return ours, theirs, tc_opt, torch_opt


def _step_both(ours, theirs, tc_opt, torch_opt, generator):
    for p, q in zip(ours, theirs):
        g = torch.randn(q.shape, generator=generator)
        q.grad = g.clone()
        p.grad = tc.tensor(g)
    tc_opt.step()
    torch_opt.step()


def _assert_params_equal(ours, theirs, step):
    for i, (p, q) in enumerate(zip(ours, theirs)):
        assert_close(p.to_torch(), q.detach(), STEP_TOL, f"step {step} param {i}")


CONFIGS = [
    ("AdamW", dict(lr=1e-2)),
    ("AdamW", dict(lr=3e-3, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.1)),
    ("SGD", dict(lr=0.05)),
    ("SGD", dict(lr=0.05, momentum=0.9, weight_decay=1e-3)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.05, momentum=0.5, dampening=0.3)),
]


@pytest.mark.parametrize("name,kwargs", CONFIGS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CONFIGS)])
def test_100_steps_match_torch_optim_with_a_state_dict_round_trip_midway(name, kwargs):
    ours, theirs, tc_opt, torch_opt = _pair(name, **kwargs)
    generator = torch.Generator().manual_seed(1)
    for step in range(100):
        if step == 50:  # save, rebuild from scratch, load: must continue identically
            saved = tc_opt.state_dict()
            tc_opt = getattr(tc.optim, name)(ours, **kwargs)
            tc_opt.load_state_dict(saved)
        _step_both(ours, theirs, tc_opt, torch_opt, generator)
        _assert_params_equal(ours, theirs, step)


def test_param_groups_have_their_own_hyperparameters():
    a, b = torch.randn(4), torch.randn(4)
    ours = [tc.tensor(a, requires_grad=True), tc.tensor(b, requires_grad=True)]
    theirs = [a.clone().requires_grad_(), b.clone().requires_grad_()]
    tc_opt = tc.optim.AdamW([{"params": [ours[0]]}, {"params": [ours[1]], "lr": 0.1,
                                                     "weight_decay": 0.0}], lr=1e-3)
    torch_opt = torch.optim.AdamW([{"params": [theirs[0]]}, {"params": [theirs[1]], "lr": 0.1,
                                                             "weight_decay": 0.0}], lr=1e-3)
    generator = torch.Generator().manual_seed(2)
    for step in range(5):
        _step_both(ours, theirs, tc_opt, torch_opt, generator)
        _assert_params_equal(ours, theirs, step)
    assert [g["lr"] for g in tc_opt.param_groups] == [1e-3, 0.1]


def test_zero_grad_sets_to_none_by_default_or_zeroes():
    p = tc.randn(3, requires_grad=True)
    opt = tc.optim.SGD([p], lr=0.1)
    p.grad = tc.ones(3)
    opt.zero_grad(set_to_none=False)
    assert p.grad.to_torch().tolist() == [0.0, 0.0, 0.0]
    opt.zero_grad()
    assert p.grad is None


def test_params_without_grad_are_skipped():
    a, b = tc.randn(3, requires_grad=True), tc.randn(3, requires_grad=True)
    before = b.to_torch()
    opt = tc.optim.AdamW([a, b], lr=0.1)
    a.grad = tc.ones(3)
    opt.step()
    assert torch.equal(b.to_torch(), before)
    assert b not in opt.state


@pytest.mark.parametrize("max_norm,norm_type", [(0.5, 2.0), (100.0, 2.0), (0.3, 1.0), (0.2, float("inf"))])
def test_clip_grad_norm_matches_torch(max_norm, norm_type):
    grads = [torch.randn(s) for s in SHAPES]
    ours = [tc.zeros(*s, requires_grad=True) for s in SHAPES]
    theirs = [torch.zeros(s, requires_grad=True) for s in SHAPES]
    for p, q, g in zip(ours, theirs, grads):
        p.grad, q.grad = tc.tensor(g), g.clone()
    total = tc.optim.clip_grad_norm_(ours, max_norm, norm_type)
    ref_total = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    assert_close(total.to_torch(), ref_total, STEP_TOL, "total norm")
    for p, q in zip(ours, theirs):
        assert_close(p.grad.to_torch(), q.grad, STEP_TOL, "clipped grad")


def test_clip_grad_norm_without_grads_is_an_error():
    with pytest.raises(ValueError, match="backward"):
        tc.optim.clip_grad_norm_([tc.zeros(2, requires_grad=True)], 1.0)


SCHEDULES = [
    ("linear", transformers.get_linear_schedule_with_warmup),
    ("cosine", transformers.get_cosine_schedule_with_warmup),
    ("constant", lambda opt, w, t: transformers.get_constant_schedule_with_warmup(opt, w)),
]


@pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler.step\(\)`")
@pytest.mark.parametrize("name,reference", SCHEDULES, ids=[s[0] for s in SCHEDULES])
def test_schedules_match_transformers(name, reference):
    p = tc.zeros(1, requires_grad=True)
    q = torch.zeros(1, requires_grad=True)
    ours = tc.optim.lr_scheduler.get_scheduler(name, tc.optim.AdamW([p], lr=3e-4), 10, 50)
    theirs = reference(torch.optim.AdamW([q], lr=3e-4), 10, 50)
    for step in range(60):
        assert ours.get_last_lr()[0] == pytest.approx(theirs.get_last_lr()[0], rel=1e-12, abs=1e-15), step
        ours.step()
        theirs.step()


def test_scheduler_state_dict_resumes_the_schedule():
    opt = tc.optim.SGD([tc.zeros(1, requires_grad=True)], lr=1.0)
    sched = tc.optim.lr_scheduler.get_cosine_schedule_with_warmup(opt, 5, 20)
    for _ in range(7):
        sched.step()
    state = sched.state_dict()
    opt2 = tc.optim.SGD([tc.zeros(1, requires_grad=True)], lr=1.0)
    sched2 = tc.optim.lr_scheduler.get_cosine_schedule_with_warmup(opt2, 5, 20)
    sched2.load_state_dict(state)
    sched.step()
    sched2.step()
    assert sched2.get_last_lr() == sched.get_last_lr()
    assert opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"]


@pytest.mark.parametrize("kwargs,match", [
    (dict(lr=-1.0), "learning rate"),
    (dict(betas=(1.0, 0.9)), "betas"),
    (dict(amsgrad=True), "amsgrad"),
])
def test_adamw_rejects_bad_hyperparameters(kwargs, match):
    with pytest.raises((ValueError, NotImplementedError), match=match):
        tc.optim.AdamW([tc.zeros(1, requires_grad=True)], **kwargs)


def test_unknown_param_group_option_is_named():
    with pytest.raises(ValueError, match="momentun"):
        tc.optim.SGD([{"params": [tc.zeros(1, requires_grad=True)], "momentun": 0.9}], lr=0.1)


def test_master_weights_update_bf16_params_through_an_fp32_copy_like_torch_fp32():
    host = [torch.randn(s) for s in SHAPES]
    ours = [tc.tensor(h, dtype=torch.bfloat16, requires_grad=True) for h in host]
    theirs = [h.to(torch.bfloat16).float().requires_grad_() for h in host]
    tc_opt = tc.optim.AdamW(ours, lr=1e-3, master_weights=True)
    torch_opt = torch.optim.AdamW(theirs, lr=1e-3)
    generator = torch.Generator().manual_seed(3)
    for step in range(20):
        for p, q in zip(ours, theirs):
            g = torch.randn(q.shape, generator=generator).to(torch.bfloat16)
            p.grad, q.grad = tc.tensor(g), g.float()
        tc_opt.step()
        torch_opt.step()
        for p, q in zip(ours, theirs):
            assert_close(tc_opt.state[p]["master"].to_torch(), q.detach(), STEP_TOL, f"master {step}")
            assert p.dtype == torch.bfloat16
            assert_close(p.to_torch().float(), q.detach().to(torch.bfloat16).float(),
                         dict(rtol=8e-3, atol=1e-6), f"bf16 param {step}")


def test_master_weights_keep_updates_that_bf16_alone_rounds_away():
    def train(master):
        p = tc.ones(4, dtype=torch.bfloat16, requires_grad=True)
        opt = tc.optim.SGD([p], lr=1e-4, master_weights=master)
        for _ in range(100):
            p.grad = tc.ones(4, dtype=torch.bfloat16)
            opt.step()
        return p.to_torch().float()[0].item()

    assert train(master=False) == 1.0  # 1 - 1e-4 rounds back to 1.0 in bf16 every step
    assert train(master=True) == pytest.approx(1 - 1e-2, abs=4e-3)
