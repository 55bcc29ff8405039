"""The training loop: loss goes down, accumulation, clipping, schedule, eval, early stop, NaN."""

import hashlib
import json
import math

import pytest
import torch
from transformers import get_cosine_schedule_with_warmup

import ttcustom as tc
from ttcustom.data import load_jsonl_dataset
from ttcustom.data.validate import DataValidationError
from ttcustom.train import NonFiniteLossError, Trainer
from ttcustom.train.config import load_config

from .conftest import FIXTURES
from .tiny import TinyLM, counting_examples, tiny_config


def metrics(output_dir, key="loss"):
    rows = [json.loads(line) for line in (output_dir / "metrics.jsonl").read_text().splitlines()]
    return [(row["step"], row[key]) for row in rows if key in row]


def make(tmp_path, model=None, optimizer=None, eval_data=True, **training):
    model = model or TinyLM()
    optimizer = optimizer or tc.optim.AdamW(model.parameters(), lr=training.get("learning_rate", 0.05))
    eval_examples = counting_examples(8, seed=1) if eval_data else None
    return Trainer(model, optimizer, counting_examples(24), eval_examples,
                   tiny_config(tmp_path, **training))


def test_loss_goes_down_and_the_run_directory_has_the_tutorials_files(tmp_path):
    trainer = make(tmp_path, max_steps=30, validation_frequency=10, checkpoint_frequency=10)
    state = trainer.train()
    losses = [loss for _, loss in metrics(tmp_path)]
    assert state.step == 30 and state.stop_reason == "completed"
    assert sum(losses[-5:]) / 5 < 0.6 * sum(losses[:5]) / 5
    assert [step for step, _ in metrics(tmp_path, "val_loss")] == [0, 10, 20, 30]
    for name in ("config.yaml", "training.log", "training_curves.png", "metrics.jsonl"):
        assert (tmp_path / name).is_file(), name
    assert (tmp_path / "training_curves.png").read_bytes()[:4] == b"\x89PNG"
    assert load_config(tmp_path / "config.yaml") == trainer.config


def test_only_the_newest_checkpoints_are_kept(tmp_path):
    make(tmp_path, max_steps=10, checkpoint_frequency=2, keep_last_checkpoints=2).train()
    assert sorted(p.name for p in tmp_path.glob("checkpoint_step_*")) == [
        "checkpoint_step_10", "checkpoint_step_8"]


def test_accumulating_two_batches_of_two_equals_one_batch_of_four(tmp_path):
    def params_after_one_step(batch_size, accum, out):
        tc.manual_seed(0)
        model = TinyLM(dropout=0.0)
        make(out, model, max_steps=1, batch_size=batch_size,
             gradient_accumulation_steps=accum, eval_data=False).train()
        return [p.to_torch() for p in model.parameters()]

    whole = params_after_one_step(4, 1, tmp_path / "a")
    accumulated = params_after_one_step(2, 2, tmp_path / "b")
    for a, b in zip(whole, accumulated):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)


def test_gradient_clipping_bounds_the_update(tmp_path):
    model = TinyLM(dropout=0.0)
    before = [p.to_torch().clone() for p in model.parameters()]
    optimizer = tc.optim.SGD(model.parameters(), lr=1.0)
    make(tmp_path, model, optimizer, max_steps=1, grad_clip=1e-3, scheduler="constant",
         learning_rate=1.0, eval_data=False).train()
    step = torch.cat([(p.to_torch() - b).flatten() for p, b in zip(model.parameters(), before)])
    assert step.norm().item() == pytest.approx(1e-3, rel=1e-4)
    assert metrics(tmp_path, "grad_norm")[0][1] > 1e-3  # logged before clipping


def test_learning_rate_follows_transformers_cosine_with_warmup(tmp_path):
    make(tmp_path, max_steps=12, warmup_steps=3, learning_rate=0.05, eval_data=False).train()
    reference = torch.optim.AdamW([torch.zeros(1, requires_grad=True)], lr=0.05)
    schedule = get_cosine_schedule_with_warmup(reference, 3, 12)
    expected = []
    for _ in range(12):
        expected.append(schedule.get_last_lr()[0])
        reference.step()
        schedule.step()
    assert [lr for _, lr in metrics(tmp_path, "lr")] == pytest.approx(expected, rel=1e-12)


def test_validation_loss_is_the_mean_over_predicted_tokens(tmp_path):
    model = TinyLM(dropout=0.0)
    trainer = make(tmp_path, model, max_steps=1, validation_batch_size=3)
    result = trainer.evaluate()
    val = counting_examples(8, seed=1)
    whole = model(torch.tensor([ex.input_ids for ex in val]),
                  labels=torch.tensor([ex.labels for ex in val])).loss.item()
    assert result["val_loss"] == pytest.approx(whole, rel=1e-6)
    assert result["val_perplexity"] == pytest.approx(math.exp(whole), rel=1e-6)


def test_early_stopping_ends_the_run_after_patience_evaluations(tmp_path):
    trainer = make(tmp_path, max_steps=50, validation_frequency=2, early_stopping_patience=2,
                   early_stopping_min_delta=100.0)
    state = trainer.train()
    assert state.step == 4  # evaluations at steps 0 (the best), 2 and 4
    assert state.stop_reason.startswith("early stopping")


def test_the_untrained_models_validation_loss_is_recorded_at_step_0(tmp_path):
    trainer = make(tmp_path, max_steps=2, validation_frequency=2)
    before = trainer.evaluate()["val_loss"]
    trainer.train()
    assert metrics(tmp_path, "val_loss")[0] == (0, pytest.approx(before, rel=1e-6))


def test_num_epochs_sets_the_length(tmp_path):
    trainer = make(tmp_path, max_steps=None, num_epochs=2, eval_data=False)
    assert trainer.total_steps == 2 * (24 // 4)


def sha(directory):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir())}


def test_nan_loss_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path):
    model = TinyLM()
    model.poison_after = 5  # step 6's forward returns a NaN loss
    trainer = make(tmp_path, model, max_steps=10, checkpoint_frequency=2, eval_data=False)
    with pytest.raises(NonFiniteLossError, match="checkpoint_step_4") as info:
        trainer.train()
    assert "non-finite training loss nan" in str(info.value)
    good = tmp_path / "checkpoint_step_4"
    before = sha(good)
    assert sorted(p.name for p in tmp_path.glob("checkpoint_step_*")) == [
        "checkpoint_step_2", "checkpoint_step_4"]
    assert trainer.state.step == 5 and sha(good) == before
    params = torch.cat([p.to_torch().flatten() for p in model.parameters()])
    assert torch.isfinite(params).all()


def test_bad_data_is_refused_with_the_validation_report(tmp_path):
    from ttcustom.data import byte_tokenizer

    report = load_jsonl_dataset(FIXTURES.parent.parent / "data" / "fixtures" / "every_error.jsonl",
                                tokenizer=byte_tokenizer(), max_length=96)
    with pytest.raises(DataValidationError, match="every_error.jsonl:5: error: wrong_type"):
        Trainer(TinyLM(), tc.optim.SGD(TinyLM().parameters()), report, None,
                tiny_config(tmp_path))


def test_a_model_without_loss_is_a_clear_error(tmp_path):
    class NoLoss(TinyLM):
        def forward(self, input_ids, attention_mask=None, labels=None):
            out = super().forward(input_ids)
            return out

    model = NoLoss()
    with pytest.raises(TypeError, match="returned no .loss"):
        make(tmp_path, model, max_steps=1).train()


def test_a_fresh_run_refuses_an_output_dir_with_another_runs_checkpoints(tmp_path):
    make(tmp_path, max_steps=2, eval_data=False).train()
    with pytest.raises(FileExistsError, match="continue it with --resume"):
        make(tmp_path, max_steps=2, eval_data=False).train()
    config = tiny_config(tmp_path, max_steps=1)
    config["logging_config"]["overwrite_output_dir"] = True
    model = TinyLM()
    Trainer(model, tc.optim.SGD(model.parameters(), lr=0.1), counting_examples(8), None,
            config).train()
    assert [p.name for p in tmp_path.glob("checkpoint_step_*")] == []
