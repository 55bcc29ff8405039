"""Resume never continues from damaged bytes, an abandoned branch or silently changed settings."""

import json
import logging

import pytest
import torch

import ttcustom as tc
from ttcustom.io import MARKER
from ttcustom.train import Callback, NonFiniteLossError, Trainer
from ttcustom.train import checkpoint as ckpt

from .tiny import TinyLM, counting_examples, tiny_config


def make(output_dir, callbacks=(), **training):
    tc.manual_seed(0)
    model = TinyLM()
    return Trainer(model, tc.optim.AdamW(model.parameters(), lr=0.05), counting_examples(24),
                   counting_examples(8, seed=1), tiny_config(output_dir, **training), callbacks)


class StopAt(Callback):
    def __init__(self, step):
        self.step = step

    def on_step_end(self, trainer):
        if trainer.state.step == self.step:
            raise KeyboardInterrupt


def flip_a_byte(path, offset=-5):
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x40
    path.write_bytes(bytes(data))


@pytest.fixture
def finished(tmp_path):
    make(tmp_path).train()  # checkpoints 4, 6, 8 (keep 3)
    return tmp_path


def test_every_checkpoint_file_has_a_sha256_in_the_trainer_state(finished):
    state = ckpt.read_state(finished / "checkpoint_step_8")
    files = {p.name for p in (finished / "checkpoint_step_8").iterdir()} - {ckpt.STATE_FILE,
                                                                           MARKER}
    assert set(state[ckpt.CHECKSUMS]) == files
    assert ckpt.verify_checkpoint(finished / "checkpoint_step_8") is None


@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_resume_falls_back_to_the_newest_intact_checkpoint_and_says_so(finished, damage, caplog):
    model_file = finished / "checkpoint_step_8" / "model.safetensors"
    if damage == "flip":
        flip_a_byte(model_file)
    else:
        model_file.write_bytes(model_file.read_bytes()[:-100])
    trainer = make(finished, max_steps=9)
    with caplog.at_level(logging.WARNING, logger="ttcustom"):
        trainer.train(resume_from="latest")
    warning = "resumed from " + str(finished / "checkpoint_step_6")
    assert any(warning in r.getMessage() for r in caplog.records)
    assert "model.safetensors does not match its sha256" in caplog.text
    assert warning in (finished / "training.log").read_text()
    assert [r["step"] for r in map(json.loads, (finished / "metrics.jsonl").read_text().splitlines())
            if "loss" in r][-3:] == [7, 8, 9]


def test_an_explicitly_named_damaged_checkpoint_is_refused(finished):
    flip_a_byte(finished / "checkpoint_step_8" / "optimizer.safetensors")
    with pytest.raises(ValueError, match="checkpoint is damaged: optimizer.safetensors does not "
                       "match its sha256"):
        make(finished, max_steps=9).train(resume_from=finished / "checkpoint_step_8")


def test_a_damaged_trainer_state_falls_back(finished):
    (finished / "checkpoint_step_8" / ckpt.STATE_FILE).write_text('{"trainer": ')
    trainer = make(finished, max_steps=9)
    trainer.train(resume_from="latest")
    assert trainer.state.step == 9


def test_all_checkpoints_damaged_is_one_error_listing_them(finished):
    for step in (4, 6, 8):
        flip_a_byte(finished / f"checkpoint_step_{step}" / "rng.safetensors")
    with pytest.raises(ValueError, match="no intact checkpoint.*checkpoint_step_8.*checkpoint_step_4"):
        make(finished, max_steps=9).train(resume_from="latest")


def test_resume_after_a_branch_picks_the_latest_written_checkpoint(finished):
    """Resumed from step 4, saved step 6 again, stopped at 7: latest is the new 6, not the
    abandoned branch's 8."""
    with pytest.raises(KeyboardInterrupt):
        make(finished, [StopAt(7)]).train(resume_from=finished / "checkpoint_step_4")
    assert ckpt.latest_checkpoint(finished).name == "checkpoint_step_6"
    trainer = make(finished)
    trainer.train(resume_from="latest")
    rows = [json.loads(line) for line in (finished / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "loss" in r] == list(range(1, 9))


def test_resume_with_a_changed_learning_rate_is_refused_naming_the_key(finished):
    with pytest.raises(ValueError, match=r"training_config.learning_rate is 0.001 now but was "
                       r"0.05 .*drop --set training_config.learning_rate"):
        make(finished, max_steps=10, learning_rate=0.001).train(resume_from="latest")


def test_resume_with_more_steps_applies_and_records_the_change(finished, caplog):
    trainer = make(finished, max_steps=10)
    with caplog.at_level(logging.INFO, logger="ttcustom"):
        trainer.train(resume_from="latest")
    assert trainer.state.step == 10
    assert "changed setting: training_config.max_steps 8 -> 10" in caplog.text
    assert "max_steps: 10" in (finished / "config.yaml").read_text()


def test_a_torn_last_line_of_metrics_does_not_block_resume(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        make(tmp_path, [StopAt(5)]).train()
    with (tmp_path / "metrics.jsonl").open("a") as handle:
        handle.write('{"step": 5, "lo')
    make(tmp_path).train(resume_from="latest")
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "loss" in r] == list(range(1, 9))


def test_nan_between_log_steps_is_caught_before_its_update(tmp_path):
    trainer = make(tmp_path, max_steps=8, checkpoint_frequency=100, validation_frequency=100)
    trainer.config.logging_config.log_every = 4
    trainer.model.poison_after = 2  # the third step's loss is NaN
    weights = [p.to_torch().clone() for p in trainer.model.parameters()]
    with pytest.raises(NonFiniteLossError, match="by step 3.*before updating the weights"):
        trainer.train()
    assert trainer.state.step == 2
    after = [p.to_torch() for p in trainer.model.parameters()]
    assert all(torch.isfinite(a).all() for a in after)
    assert any(not torch.equal(a, b) for a, b in zip(after, weights))  # steps 1-2 applied


def test_without_cheap_host_reads_nan_is_caught_at_the_next_read_back(tmp_path):
    """The tt backend's path: no read per step; the NaN surfaces at the log step, nothing
    is saved after it, and the message says the in-memory weights are discarded."""
    trainer = make(tmp_path, max_steps=8, checkpoint_frequency=4, validation_frequency=100)
    trainer.config.logging_config.log_every = 4
    trainer._host_reads_are_cheap = False
    reads = []
    original = trainer._read_and_log
    trainer._read_and_log = lambda step: (reads.append(step), original(step))
    trainer.model.poison_after = 5  # the sixth step's loss is NaN
    with pytest.raises(NonFiniteLossError, match="by step 8; the run stopped at the read-back "
                       "after 4 steps .*checkpoint_step_4"):
        trainer.train()
    assert reads == [4, 8]
    assert [p.name for p in tmp_path.glob("checkpoint_step_*")] == ["checkpoint_step_4"]


def _save(target):
    model = TinyLM()
    return ckpt.save_checkpoint(target, model, tc.optim.AdamW(model.parameters()), None,
                                {"step": 1})


def test_resaving_a_step_replaces_its_checkpoint(tmp_path):
    _save(tmp_path / "checkpoint_step_1")
    assert ckpt.read_state(_save(tmp_path / "checkpoint_step_1"))[ckpt.SEQUENCE] == 2
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint_step_1"]


def test_a_checkpoint_written_before_markers_is_still_replaced(tmp_path):
    target = _save(tmp_path / "checkpoint_step_1")
    (target / MARKER).unlink()
    assert ckpt.read_state(_save(target))[ckpt.SEQUENCE] == 2


def test_a_checkpoint_holding_a_users_file_is_not_replaced(tmp_path):
    target = _save(tmp_path / "checkpoint_step_1")
    (target / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="notes.txt"):
        _save(target)
    assert (target / "notes.txt").read_text() == "mine"
