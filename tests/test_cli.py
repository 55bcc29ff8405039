"""The `ttcustom` command end to end on tiny models (in-process, CPU)."""

import json
import shutil

import pytest
import torch
from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM

from ttcustom.cli import main, side_by_side
from ttcustom.data import byte_tokenizer, save_tokenizer

FIXTURES = "tests/data/fixtures"
QA = [("What is a tensor?", "A box of numbers."), ("What is a gradient?", "A slope."),
      ("What is a loss?", "A score of wrongness."), ("What is an epoch?", "One pass."),
      ("What is a batch?", "A handful of examples."), ("What is a weight?", "A knob."),
      ("What is overfitting?", "Memorizing."), ("What is a token?", "A piece of text.")]


@pytest.fixture(scope="module")
def base_model(tmp_path_factory):
    """A random transformers Llama with a byte tokenizer (+ <|endoftext|>), saved as a dir."""
    directory = tmp_path_factory.mktemp("base")
    tokenizer = byte_tokenizer()
    tokenizer.add_special_tokens({"eos_token": "<|endoftext|>", "bos_token": "<|endoftext|>"})
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=128, bos_token_id=256, eos_token_id=256)
    LlamaForCausalLM(config).save_pretrained(directory)
    save_tokenizer(tokenizer, directory)
    return directory


@pytest.fixture
def qa_file(tmp_path):
    path = tmp_path / "qa.jsonl"
    path.write_text("".join(json.dumps({"prompt": q, "response": a}) + "\n" for q, a in QA))
    return path


def lora_config(tmp_path, base_model, qa_file, **training):
    path = tmp_path / "lora.yaml"
    steps = training.get("max_steps", 4)
    path.write_text(f"""
model:
  path: {base_model}
lora:
  r: 4
  alpha: 8
  target_modules: [q_proj, v_proj]
data:
  train_file: {qa_file}
  val_split: 0.25
training_config:
  batch_size: 2
  max_steps: {steps}
  learning_rate: 0.01
  validation_frequency: 2
  checkpoint_frequency: 2
  max_sequence_length: 96
logging_config:
  output_dir: {tmp_path / "run"}
  progress_bar: false
eval_config:
  prompts: ["What is a tensor?"]
  max_new_tokens: 8
""")
    return path


def test_data_validate_reports_errors_and_exits_1(capsys):
    code = main(["data", "validate", f"{FIXTURES}/every_error.jsonl", "--tokenizer", "byte",
                 "--max-length", "96"])
    out = capsys.readouterr().out
    assert code == 1
    assert "every_error.jsonl:2: error: invalid_json" in out
    assert "every_error.jsonl:8: error: too_long: 157 tokens > max_length 96" in out


def test_data_validate_passes_the_shipped_trickster_data(capsys):
    assert main(["data", "validate", "examples/data/trickster_train.jsonl"]) == 0
    assert "format prompt_response (detected from line 1)" in capsys.readouterr().out


def test_bad_config_exits_2_naming_file_line_and_key(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text("training_config:\n  max_steps: 3\n  learning_rate: fast\n")
    assert main(["train", str(path)]) == 2
    assert f"{path}:3: training_config.learning_rate: Input should be a valid number" in \
        capsys.readouterr().err


def test_an_unusable_model_config_json_exits_2_like_a_bad_run_config(tmp_path, capsys):
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text('{"model_type": "mamba"}')
    path = tmp_path / "run.yaml"
    path.write_text(f"model:\n  path: {model}\ntraining_config:\n  max_steps: 3\n"
                    "data:\n  corpus: README.md\n  tokenizer:\n    kind: byte\n")
    assert main(["train", str(path)]) == 2
    assert "config.json: model_type 'mamba'" in capsys.readouterr().err


def test_bad_data_is_refused_before_any_model_is_loaded(tmp_path, capsys):
    path = tmp_path / "run.yaml"
    path.write_text(f"model:\n  path: {tmp_path / 'nowhere'}\ntraining_config:\n  max_steps: 3\n"
                    f"data:\n  train_file: {FIXTURES}/every_error.jsonl\n"
                    "  tokenizer:\n    kind: byte\n"
                    "  val_split: 0.2\ntraining_config:\n  max_steps: 3\n")
    assert main(["train", str(path), "--set", "training_config.max_sequence_length=96"]) == 2
    err = capsys.readouterr().err
    assert "duplicate key" in err  # the config problem is reported first
    path.write_text(path.read_text().rsplit("training_config:", 1)[0])
    assert main(["train", str(path), "--set", "training_config.max_sequence_length=96"]) == 2
    assert "every_error.jsonl:5: error: wrong_type" in capsys.readouterr().err


def test_lora_fine_tune_exports_for_transformers_and_peft(tmp_path, base_model, qa_file, capsys):
    peft = pytest.importorskip("peft")
    config = lora_config(tmp_path, base_model, qa_file)
    assert main(["train", str(config)]) == 0
    run = tmp_path / "run"
    out = capsys.readouterr().out
    assert "Samples at step 2" in out and "Q1: What is a tensor?" in out
    for name in ("final_model/config.json", "final_adapter/adapter_config.json",
                 "training_curves.png", "config.yaml", "checkpoint_step_4/model.safetensors"):
        assert (run / name).exists(), name
    ids = torch.tensor([[256, 87, 104, 97, 116, 63]])
    merged = AutoModelForCausalLM.from_pretrained(run / "final_model").eval()
    adapted = peft.PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base_model),
                                             run / "final_adapter").eval()
    base = AutoModelForCausalLM.from_pretrained(base_model).eval()
    with torch.no_grad():
        torch.testing.assert_close(merged(ids).logits, adapted(ids).logits, rtol=1e-4, atol=1e-4)
        assert not torch.allclose(merged(ids).logits, base(ids).logits, atol=1e-3)
    assert main(["export", "--checkpoint", str(run), "--to", "hf", str(tmp_path / "hf")]) == 0
    again = AutoModelForCausalLM.from_pretrained(tmp_path / "hf").eval()
    with torch.no_grad():
        torch.testing.assert_close(again(ids).logits, merged(ids).logits, rtol=0, atol=0)
    assert main(["export", "--checkpoint", str(run / "checkpoint_step_2"), "--to", "peft",
                 str(tmp_path / "adapter")]) == 0
    assert (tmp_path / "adapter" / "adapter_model.safetensors").is_file()
    template = json.loads((run / "final_model" / "tokenizer_config.json").read_text())
    assert "### Question:" in (template.get("chat_template") or
                               (run / "final_model" / "chat_template.jinja").read_text())


def metrics(run):
    """Every logged value but the timing, by step."""
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in row.items() if k != "tokens_per_s"} for row in rows]


def test_resume_through_the_cli_reproduces_the_run(tmp_path, base_model, qa_file):
    config = lora_config(tmp_path, base_model, qa_file)
    run = tmp_path / "run"
    assert main(["train", str(config)]) == 0
    full = metrics(run)
    for name in ("checkpoint_step_4", "final_model", "final_adapter"):
        shutil.rmtree(run / name)
    assert main(["train", str(config), "--resume", str(run / "checkpoint_step_2")]) == 0
    assert metrics(run) == full


def test_generate_compares_base_and_fine_tuned_side_by_side(tmp_path, base_model, qa_file, capsys):
    assert main(["train", str(lora_config(tmp_path, base_model, qa_file, max_steps=2))]) == 0
    capsys.readouterr()
    assert main(["generate", "--model", str(tmp_path / "run" / "final_model"), "--compare",
                 str(base_model), "--prompt", "What is a tensor?", "--max-new-tokens", "5"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Q: What is a tensor?")
    assert "base: " in out and "| fine-tuned: " in out


def test_side_by_side_wraps_both_columns():
    text = side_by_side(("left", "a " * 30), ("right", "b"), width=43)
    rows = text.splitlines()
    assert rows[0] == f"{'left':<20} | right"
    assert all(len(row.split(" | ")[0]) == 20 for row in rows)


def test_info_names_the_backend(capsys):
    assert main(["info", "--backend", "cpu"]) == 0
    assert "backend: cpu" in capsys.readouterr().out


def test_from_scratch_run_on_a_corpus_exports_like_its_final_model(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("ROMEO:\nBut soft, what light through yonder window breaks?\n\n" * 40)
    config = tmp_path / "scratch.yaml"
    config.write_text(f"""
model_config: {{vocab_size: 300, hidden_dim: 32, num_layers: 1, num_heads: 2, mlp_dim: 64,
               max_seq_len: 64}}
training_config: {{max_steps: 2, batch_size: 4, checkpoint_frequency: 2, learning_rate: 1e-2,
                  max_sequence_length: 32}}
data: {{corpus: {corpus}, tokenizer: {{kind: bpe, vocab_size: 300}}}}
logging_config: {{output_dir: {tmp_path / "run"}, progress_bar: false}}
""")
    assert main(["train", str(config)]) == 0
    assert main(["export", "--checkpoint", str(tmp_path / "run"), "--to", "hf",
                 str(tmp_path / "hf")]) == 0
    ids = torch.tensor([[1, 2, 3, 4]])
    with torch.no_grad():
        exported = AutoModelForCausalLM.from_pretrained(tmp_path / "hf")(ids).logits
        final = AutoModelForCausalLM.from_pretrained(tmp_path / "run" / "final_model")(ids).logits
    torch.testing.assert_close(exported, final, rtol=0, atol=0)
    assert (tmp_path / "hf" / "tokenizer.json").read_text() == \
        (tmp_path / "run" / "tokenizer" / "tokenizer.json").read_text()
    assert main(["export", "--checkpoint", str(tmp_path / "run"), "--to", "peft",
                 str(tmp_path / "peft")]) == 1
