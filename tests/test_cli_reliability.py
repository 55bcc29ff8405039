"""The CLI under OS errors, signals and fuzzed arguments: one line, exit code, no litter."""

import errno
import os
import signal
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ttcustom as tc
from ttcustom.cli import main
from ttcustom.io import atomic_directory
from ttcustom.oserrors import describe, naming
from ttcustom.train import Trainer
from ttcustom.train.callbacks import LossCurves

from .train.tiny import TinyLM, counting_examples, tiny_config


def test_an_os_error_without_a_file_name_gets_the_path(tmp_path):
    with pytest.raises(OSError) as raised, naming(tmp_path / "model.safetensors"):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    assert describe(raised.value) == (f"{tmp_path / 'model.safetensors'}: No space left on "
                                      "device; the disk is full: free some space or write to "
                                      "another directory (--output-dir)")


def test_the_first_error_of_a_run_is_kept_when_the_plot_fails_too(tmp_path, monkeypatch):
    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "ckpt"))

    def plot_fails(self, trainer):
        raise OSError(errno.ENOSPC, "No space left on device", "training_curves.png")

    monkeypatch.setattr("ttcustom.train.checkpoint.save_checkpoint", disk_full)
    monkeypatch.setattr(LossCurves, "on_train_end", plot_fails)
    model = TinyLM()
    trainer = Trainer(model, tc.optim.AdamW(model.parameters(), lr=0.05), counting_examples(24),
                      None, tiny_config(tmp_path))
    with pytest.raises(OSError) as raised:
        trainer.train()
    assert raised.value.filename == str(tmp_path / "ckpt")
    assert not (tmp_path / ".ttcustom.lock").exists()


def test_a_read_only_run_directory_is_one_line(tmp_path, monkeypatch, capsys):
    def read_only(config, path):
        raise OSError(errno.EROFS, "Read-only file system", str(path))

    monkeypatch.setattr("ttcustom.train.run_files.save_config", read_only)
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("To be, or not to be, that is the question.\n" * 30)
    config = tmp_path / "run.yaml"
    config.write_text(f"""
model_config: {{vocab_size: 256, hidden_dim: 16, num_layers: 1, num_heads: 2, mlp_dim: 32,
               max_seq_len: 32}}
training_config: {{max_steps: 1, batch_size: 2, max_sequence_length: 16}}
data: {{corpus: {corpus}, tokenizer: {{kind: byte}}}}
logging_config: {{output_dir: {tmp_path / "run"}, progress_bar: false}}
""")
    assert main(["train", str(config)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: {tmp_path / 'run' / 'config.yaml'}: Read-only file system; the "
                   "file system is read-only: write to another directory (--output-dir)"]


def test_sigterm_during_an_export_removes_its_temporary_directory(tmp_path, monkeypatch, capsys):
    def export(checkpoint, to, out, dtype):
        with atomic_directory(out) as tmp:
            (tmp / "model.safetensors").write_bytes(bytes(1024))
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(10)
        raise AssertionError("not reached")

    monkeypatch.setattr("ttcustom.train.export_run.export_checkpoint", export)
    code = main(["export", "--checkpoint", str(tmp_path), "--to", "hf", str(tmp_path / "out")])
    assert code == 128 + signal.SIGTERM
    assert list(tmp_path.iterdir()) == []
    assert "terminated" in capsys.readouterr().err
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


@pytest.mark.parametrize("flag,value,match", [
    ("--temperature", "nan", "temperature must be a finite number"),
    ("--top-p", "1.5", "top_p must be in"),
    ("--top-k", "-3", "top_k must be an integer >= 0"),
    ("--max-new-tokens", "-5", "max_new_tokens must be an integer >= 1"),
])
def test_generate_checks_its_arguments_before_loading_a_model(tmp_path, capsys, flag, value, match):
    assert main(["generate", "--model", str(tmp_path / "absent"), "--prompt", "hi",
                 flag, value]) == 1
    assert match in capsys.readouterr().err


@settings(max_examples=60, deadline=None)
@given(temperature=st.sampled_from(["0", "0.7", "nan", "inf", "-1", "1e308"]),
       top_k=st.sampled_from(["0", "5", "-1", "x"]),
       top_p=st.sampled_from(["1", "0.9", "0", "-0.5", "2", "nan"]),
       tokens=st.sampled_from(["1", "0", "-5", "64"]))
def test_fuzzed_generate_arguments_end_in_an_exit_code(temperature, top_k, top_p, tokens):
    argv = ["generate", "--model", "/nonexistent/model", "--prompt", "hi", "--temperature",
            temperature, "--top-k", top_k, "--top-p", top_p, "--max-new-tokens", tokens]
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse: not a number
        code = exit_.code
    assert code in (1, 2)


@pytest.mark.parametrize("flag,value,match", [
    ("--max-length", "-3", "argument --max-length: -3 is below the minimum 1"),
    ("--max-length", "ten", "argument --max-length: 'ten' is not a whole number"),
    ("--max-issues", "-1", "argument --max-issues: -1 is below the minimum 0"),
])
def test_data_validate_names_a_bad_count_argument(capsys, flag, value, match):
    with pytest.raises(SystemExit) as raised:
        main(["data", "validate", "x.jsonl", "--tokenizer", "byte", flag, value])
    assert raised.value.code == 2
    assert match in capsys.readouterr().err


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["--max-length", "--max-issues", "--format", "--truncate",
                                 "--tokenizer", "byte", "-1", "0", "7", "chat", "x", "--"]),
                max_size=5))
def test_fuzzed_data_validate_arguments_end_in_an_exit_code(tmp_path_factory, argv):
    path = tmp_path_factory.mktemp("fuzz") / "d.jsonl"
    path.write_text('{"text": "hello"}\n')
    try:
        code = main(["data", "validate", str(path), *argv])
    except SystemExit as exit_:
        code = exit_.code
    assert code in (0, 1, 2)
