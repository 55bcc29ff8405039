"""Step capture (`tc.compile_step`): replays match eager; guards fall back to eager."""

from __future__ import annotations

import logging

import pytest
import torch

import ttcustom as tc
import ttcustom.functional as F
from ttcustom.capture.step import MAX_PROGRAMS
from ttcustom.lora import LoRALinear, apply_lora, lora_layers
from ttcustom.models import LlamaForCausalLM
from ttcustom.models.config import ModelConfig

VOCAB = 64


def tiny_llama(seed: int = 0, dropout: float = 0.0) -> LlamaForCausalLM:
    tc.manual_seed(seed)
    config = ModelConfig(model_type="llama", vocab_size=VOCAB, hidden_size=32,
                         intermediate_size=48, num_hidden_layers=2, num_attention_heads=4,
                         num_key_value_heads=2, max_position_embeddings=32,
                         hidden_dropout=dropout)
    return LlamaForCausalLM(config).init_weights()


def batches(count: int, batch: int = 2, seq: int = 12) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return [torch.randint(0, VOCAB, (batch, seq), generator=g) for _ in range(count)]


def training(model, optimizer_cls=tc.optim.AdamW, **opt_args):
    """(step function, optimizer, scheduler) of a full step: loss, backward, clip, update."""
    optimizer = optimizer_cls(model.parameters(), **opt_args)
    scheduler = tc.optim.lr_scheduler.get_cosine_schedule_with_warmup(optimizer, 3, 100)

    def step(ids, labels):
        loss = model(ids, labels=labels).loss
        loss.backward()
        tc.optim.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad()
        return loss

    return step, optimizer, scheduler


def run(steps: int, mode: str, optimizer_cls=tc.optim.AdamW, lora: bool = False, **opt_args):
    """Losses and final weights of `steps` steps run eagerly or captured (with `lora`: LoRA
    r=4 on every linear but the head, its B made non-zero)."""
    model = tiny_llama()
    if lora:
        apply_lora(model, r=4, alpha=8, target_modules="all-linear")
        with tc.no_grad():
            for layer in lora_layers(model).values():
                layer.lora_B.copy_(tc.randn(*layer.lora_B.shape) * 0.1)
    step, optimizer, scheduler = training(model, optimizer_cls, **opt_args)
    if mode != "eager":
        step = tc.compile_step(step, model=model, optimizer=optimizer, compile=mode == "compiled")
    losses = []
    for ids in batches(steps):
        losses.append(step(ids, ids).item())
        scheduler.step()
    weights = {k: v.to_torch() for k, v in model.state_dict().items()}
    return losses, weights, step


@pytest.mark.parametrize("optimizer", [dict(optimizer_cls=tc.optim.AdamW, lr=1e-2),
                                       dict(optimizer_cls=tc.optim.SGD, lr=0.1, momentum=0.9)],
                         ids=["adamw", "sgd-momentum"])
def test_replayed_steps_equal_eager_bit_for_bit(optimizer):
    eager_losses, eager_weights, _ = run(12, "eager", **optimizer)
    losses, weights, step = run(12, "replay", **optimizer)
    assert step.stats["replays"] >= 10
    assert losses == eager_losses
    assert all(torch.equal(weights[k], eager_weights[k]) for k in weights)


def test_replayed_lora_steps_equal_eager_bit_for_bit():
    """A LoRA step (the lora_linear primitives, recorded whole) replays as it ran."""
    eager_losses, eager_weights, _ = run(6, "eager", lora=True, lr=1e-2)
    losses, weights, step = run(6, "replay", lora=True, lr=1e-2)
    assert step.stats["replays"] == 5
    assert losses == eager_losses
    assert all(torch.equal(weights[k], eager_weights[k]) for k in weights)


@pytest.mark.slow
def test_compiled_lora_steps_match_eager():
    eager_losses, eager_weights, _ = run(6, "eager", lora=True, lr=1e-2)
    losses, weights, step = run(6, "compiled", lora=True, lr=1e-2)
    assert step.stats == {"captures": 1, "replays": 5, "eager": 1}
    torch.testing.assert_close(torch.tensor(losses), torch.tensor(eager_losses),
                               rtol=1e-4, atol=1e-5)
    for k in weights:
        torch.testing.assert_close(weights[k], eager_weights[k], rtol=0, atol=1e-3)


@pytest.mark.slow
def test_compiled_steps_match_eager_for_100_steps():
    eager_losses, eager_weights, _ = run(100, "eager", lr=1e-2)
    losses, weights, step = run(100, "compiled", lr=1e-2)
    assert step.stats == {"captures": 1, "replays": 99, "eager": 1}
    torch.testing.assert_close(torch.tensor(losses), torch.tensor(eager_losses),
                               rtol=1e-4, atol=1e-5)
    # AdamW moves a weight by about lr per step whatever the gradient's size, so a
    # rounding difference in a near-zero gradient can flip a step: allow a tenth of one
    for k in weights:
        torch.testing.assert_close(weights[k], eager_weights[k], rtol=0, atol=1e-3)


def test_the_first_step_runs_eagerly_and_creates_the_optimizer_state():
    _, _, step = run(3, "replay", lr=1e-2)
    assert step.stats == {"captures": 1, "replays": 2, "eager": 1}


def test_the_replay_reads_the_optimizer_state_that_load_state_dict_put_in_place():
    model = tiny_llama()
    fn, optimizer, _ = training(model, lr=1e-2)
    step = tc.compile_step(fn, model=model, optimizer=optimizer, compile=False)
    ids = batches(1)[0]
    for _ in range(3):
        step(ids, ids)
    saved = optimizer.state_dict()
    reference = {k: v.to_torch() for k, v in model.state_dict().items()}
    expected = step(ids, ids).item()
    model.load_state_dict(reference)
    optimizer.load_state_dict(saved)
    assert step(ids, ids).item() == pytest.approx(expected, abs=0)


def test_a_new_shape_is_captured_again():
    model = tiny_llama()
    fn, optimizer, _ = training(model, lr=1e-2)
    step = tc.compile_step(fn, model=model, optimizer=optimizer, compile=False)
    for ids in batches(3) + batches(3, seq=8):
        step(ids, ids)
    assert step.stats == {"captures": 2, "replays": 5, "eager": 1}


def test_steps_of_too_many_shapes_run_eagerly():
    model = tiny_llama()
    fn, optimizer, _ = training(model, lr=1e-2)
    step = tc.compile_step(fn, model=model, optimizer=optimizer, compile=False)
    lengths = [4, 4] + list(range(5, 5 + MAX_PROGRAMS + 1))
    for seq in lengths:
        ids = batches(1, seq=seq)[0]
        step(ids, ids)
    assert step.stats == {"captures": MAX_PROGRAMS, "replays": MAX_PROGRAMS, "eager": 3}
    assert "pad batches to one length" in next(iter(step.reasons.values()))


def test_freezing_a_parameter_changes_the_guard_key():
    model = tiny_llama()
    fn, optimizer, _ = training(model, lr=1e-2)
    step = tc.compile_step(fn, model=model, optimizer=optimizer, compile=False)
    ids = batches(1)[0]
    step(ids, ids), step(ids, ids)
    model.lm_head.weight.requires_grad_(False)
    before = model.lm_head.weight.to_torch()
    step(ids, ids)
    assert step.stats["captures"] == 2
    assert torch.equal(model.lm_head.weight.to_torch(), before)


@pytest.mark.parametrize("breaker, reason", [
    ("hook", "gradient hooks"),
    ("read", "reads a value back to the host"),
    ("dropout", "dropout"),
])
def test_uncapturable_steps_run_eagerly_and_log_the_reason_once(breaker, reason, caplog):
    model = tiny_llama(dropout=0.5 if breaker == "dropout" else 0.0)
    fn, optimizer, _ = training(model, lr=1e-2)
    if breaker == "hook":
        model.lm_head.weight.register_post_accumulate_grad_hook(lambda p: None)

    def step_fn(ids, labels):
        loss = fn(ids, labels)
        if breaker == "read":
            loss.item()
        return loss

    step = tc.compile_step(step_fn, model=model, optimizer=optimizer, compile=False)
    ids = batches(1)[0]
    with caplog.at_level(logging.WARNING, logger="ttcustom.capture"):
        for _ in range(4):
            step(ids, ids)
    assert step.stats["replays"] == 0 and step.stats["eager"] == 4
    warnings = [r.message for r in caplog.records if "not captured" in r.message]
    assert len(warnings) == 1 and reason in warnings[0]


def test_a_dry_recording_leaves_weights_state_and_grads_untouched():
    model = tiny_llama()
    fn, optimizer, _ = training(model, lr=1e-2)
    ids = batches(1)[0]
    fn(tc.tensor(ids), tc.tensor(ids))  # creates the optimizer state
    weights = {k: v.to_torch() for k, v in model.state_dict().items()}
    steps = [s["step"] for s in optimizer.state.values()]
    step = tc.compile_step(fn, model=model, optimizer=optimizer, compile=False)
    step._capture(step._key((ids, ids)), (ids, ids))
    assert all(torch.equal(v.to_torch(), weights[k]) for k, v in model.state_dict().items())
    assert [s["step"] for s in optimizer.state.values()] == steps
    assert all(p.grad is None for p in model.parameters())


class _QKV(tc.nn.Module):
    """q and v LoRA, k a frozen Linear, as one grouped_linear (an attention's inputs)."""

    def __init__(self) -> None:
        super().__init__()
        tc.manual_seed(0)
        self.q = LoRALinear(tc.nn.Linear(16, 16), r=4, alpha=8)
        self.k = tc.nn.Linear(16, 8)
        self.v = LoRALinear(tc.nn.Linear(16, 8), r=4, alpha=8)
        self.k.requires_grad_(False)
        with tc.no_grad():
            for layer in (self.q, self.v):
                layer.lora_B.copy_(tc.randn(*layer.lora_B.shape) * 0.1)

    def forward(self, x):
        return F.grouped_linear(x, [m.linear_terms(x) for m in (self.q, self.k, self.v)])


def _grouped_run(mode: str):
    model = _QKV()
    optimizer = tc.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)

    def step(x):
        loss = (model(x) ** 2).mean()
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        return loss

    if mode != "eager":
        step = tc.compile_step(step, model=model, optimizer=optimizer)
    g = torch.Generator().manual_seed(2)
    losses = [step(tc.tensor(torch.randn(3, 5, 16, generator=g))).item() for _ in range(4)]
    return losses, step


def test_grouped_linear_is_recorded_whole_and_replays_as_it_ran():
    eager, _ = _grouped_run("eager")
    losses, step = _grouped_run("replay")
    assert losses == eager and step.stats["replays"] == 3
    (entry,) = step._entries.values()
    source = entry["program"].source
    assert "B.grouped_linear(" in source and "B.grouped_linear_backward(" in source
    assert "B.lora_linear" not in source and "B.linear(" not in source
