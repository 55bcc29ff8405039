"""Config validation: good values load, bad ones name file, line, key path and the fix."""

import textwrap

import pytest

from ttcustom.models import model_types
from ttcustom.train.config import ConfigError, load_config, save_config

from .conftest import FIXTURES

BASE = "training_config:\n  max_steps: 10\n"


def write(tmp_path, text, name="run.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def errors(tmp_path, text, overrides=()):
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text), overrides)
    return info.value.problems


# ---------------------------------------------------------------- the tutorial's files
def test_the_tutorials_n150_config_loads_as_written():
    config = load_config(FIXTURES / "tutorial_training_n150.yaml")
    training = config.training_config
    assert (training.batch_size, training.gradient_accumulation_steps) == (8, 4)
    assert training.validation_frequency == 50 and training.checkpoint_frequency == 100
    assert training.grad_clip == 1.0 and training.optimizer == "adamw"
    assert config.logging_config.wandb_project == "my-training"
    assert config.logging_config.wandb_run_name == "n150-experiment"
    assert config.model.architecture == "llama"
    assert config.eval_config.top_k == 50
    assert config.device_config.mesh_shape == [1, 1]


def test_nano_trickster_keys_and_exponent_learning_rates(tmp_path):
    config = load_config(write(tmp_path, """
        model_config:
          vocab_size: 256
          hidden_dim: 256
          num_layers: 6
          num_heads: 8
          mlp_dim: 768
          max_seq_len: 512
        training_config:
          batch_size: 16
          max_steps: 10000
          learning_rate: 3e-4
          warmup_steps: 1000
          grad_clip: 1.0
    """))
    assert config.architecture.mlp_dim == 768
    assert config.training_config.learning_rate == 3e-4


def test_tutorial_aliases_map_to_their_keys(tmp_path):
    config = load_config(write(tmp_path, """
        training_config:
          max_steps: 5
          eval_every: 7
          model_save_interval: 9
          scheduler_type: identity
          use_clip_grad_norm: false
          tokenizer_type: char
    """))
    training = config.training_config
    assert (training.validation_frequency, training.checkpoint_frequency) == (7, 9)
    assert training.scheduler == "constant" and training.grad_clip is None
    assert config.data.tokenizer.kind == "char"


@pytest.mark.parametrize("model_type", model_types())
def test_every_registered_architecture_is_a_from_scratch_choice(tmp_path, model_type):
    config = load_config(write(tmp_path, BASE + f"model:\n  architecture: {model_type}\n"))
    assert config.model.architecture == model_type


def test_model_config_may_live_in_its_own_file(tmp_path):
    write(tmp_path, "model_config:\n  hidden_dim: 64\n  num_heads: 4\n", "model.yaml")
    config = load_config(write(tmp_path, BASE + '  model_config: "model.yaml"\n'))
    assert config.architecture.hidden_dim == 64


def test_errors_in_a_separate_model_config_file_name_that_file(tmp_path):
    write(tmp_path, "hidden_dim: 64\nnum_heads: 0\n", "model.yaml")
    problems = errors(tmp_path, BASE + '  model_config: "model.yaml"\n')
    assert problems == [f"{tmp_path / 'model.yaml'}:2: model_config.num_heads: "
                        "Input should be greater than 0 (got 0)"]


# ---------------------------------------------------------------- every section, bad values
@pytest.mark.parametrize("text, expected", [
    ("training_config:\n  max_steps: 10\n  learing_rate: 1e-4\n",
     "run.yaml:3: training_config.learing_rate: unknown key; did you mean 'learning_rate'?"),
    ("training_config:\n  max_steps: 10\n  batch_size: eight\n",
     "run.yaml:3: training_config.batch_size: Input should be a valid integer (got 'eight')"),
    ("training_config:\n  max_steps: 0\n",
     "run.yaml:2: training_config.max_steps: Input should be greater than 0 (got 0)"),
    ("training_config:\n  batch_size: 4\n",
     "run.yaml:1: training_config: set max_steps or num_epochs"),
    ("training_config:\n  max_steps: 1\n  scheduler: cosin\n",
     "training_config.scheduler: Input should be 'constant', 'linear' or 'cosine' (got 'cosin')"),
    ("training_config:\n  max_steps: 1\n  use_kahan_summation: true\n",
     "training_config.use_kahan_summation: Input should be False (got True)"),
    (BASE + "device_config:\n  backend: gpu\n",
     "run.yaml:4: device_config.backend: Input should be 'auto', 'tt', 'cpu' or 'cuda' (got 'gpu')"),
    (BASE + "device_config:\n  mesh_shape: [1, 2]\n",
     "run.yaml:3: device_config: mesh_shape [1, 2] spans 2 devices but enable_ddp is false"),
    (BASE + "device_config:\n  mesh_shape: [1, 2, 3]\n",
     "run.yaml:4: device_config.mesh_shape: List should have at most 2 items"),
    (BASE + "device_config:\n  dtype: float16\n",
     "device_config.dtype: Input should be 'auto', 'float32' or 'bfloat16' (got 'float16')"),
    (BASE + "logging_config:\n  log_level: LOUD\n",
     "run.yaml:4: logging_config.log_level: Input should be 'DEBUG', 'INFO', 'WARNING' or 'ERROR'"),
    (BASE + "logging_config:\n  wandb_mode: cloud\n",
     "logging_config.wandb_mode: Input should be 'online' or 'offline' (got 'cloud')"),
    (BASE + "logging_config:\n  log_every: 0\n",
     "logging_config.log_every: Input should be greater than 0"),
    (BASE + "eval_config:\n  top_p: 1.5\n",
     "run.yaml:4: eval_config.top_p: Input should be less than or equal to 1 (got 1.5)"),
    (BASE + "data:\n  train_file: a.jsonl\n  corpus: b.txt\n",
     "run.yaml:3: data: set one of train_file (JSONL) or corpus (a plain-text file), not both"),
    (BASE + "data:\n  corpus: b.txt\n  format: csv\n",
     "run.yaml:5: data.format: Input should be 'auto', 'prompt_response'"),
    (BASE + "data:\n  corpus: b.txt\n  tokenizer:\n    kind: wordpiece\n",
     "run.yaml:6: data.tokenizer.kind: Input should be 'auto', 'pretrained', 'byte', 'char' or 'bpe'"),
    (BASE + "data:\n  corpus: b.txt\n  val_split: 1.5\n",
     "run.yaml:5: data.val_split: Input should be less than 1 (got 1.5)"),
    (BASE + "lora:\n  r: 0\n",
     "run.yaml:4: lora.r: Input should be greater than 0 (got 0)"),
    (BASE + "lora:\n  target_modules: []\n",
     "run.yaml:4: lora.target_modules: List should have at least 1 item"),
    (BASE + "model:\n  path: some/dir\nmodel_config:\n  hidden_dim: 64\n",
     "give either model.path (a pretrained directory) or model_config"),
    (BASE + "model_config:\n  hidden_dim: 100\n  num_heads: 8\n",
     "run.yaml:3: model_config: hidden_dim 100 must be a multiple of num_heads 8"),
    (BASE + "model:\n  architecture: bert\n",
     "run.yaml:4: model.architecture: Input should be 'llama', 'mistral', 'qwen2', 'qwen3' or 'gpt2'"),
    (BASE + "colour: blue\n",
     "run.yaml:3: colour: unknown key (allowed: data, device_config, eval_config, logging_config"),
])
def test_bad_values_are_reported_with_line_and_path(tmp_path, text, expected):
    problems = errors(tmp_path, text)
    assert any(expected in p for p in problems), problems


def test_all_problems_are_reported_at_once(tmp_path):
    problems = errors(tmp_path, """
        training_config:
          max_steps: -1
          batch_size: 0
        lora:
          alpha: -2
    """)
    assert len(problems) == 3


def test_duplicate_keys_are_errors(tmp_path):
    problems = errors(tmp_path, "training_config:\n  max_steps: 1\n  max_steps: 2\n")
    assert problems == [f"{tmp_path / 'run.yaml'}:3: training_config.max_steps: duplicate key"]


def test_conflicting_tutorial_alias_is_an_error(tmp_path):
    problems = errors(tmp_path, BASE + "  eval_every: 5\n  validation_frequency: 6\n")
    assert "training_config.eval_every: sets training_config.validation_frequency to 5" in problems[0]


def test_invalid_yaml_names_the_line(tmp_path):
    problems = errors(tmp_path, "training_config:\n  max_steps: [1,\n")
    assert problems[0].startswith(f"{tmp_path / 'run.yaml'}:3: not valid YAML")


# ---------------------------------------------------------------- overrides and saving
def test_set_overrides_parse_values_as_yaml(tmp_path):
    config = load_config(write(tmp_path, BASE), ["training_config.learning_rate=3e-4",
                                                 "device_config.mesh_shape=[1, 1]",
                                                 "lora.r=4"])
    assert config.training_config.learning_rate == 3e-4
    assert config.lora.r == 4 and config.lora_enabled


def test_bad_overrides_name_the_flag(tmp_path):
    problems = errors(tmp_path, BASE, ["training_config.batch_size=0", "nonsense"])
    assert "--set training_config.batch_size: training_config.batch_size: Input should be " \
           "greater than 0 (got 0)" in problems
    assert any(p.startswith("--set nonsense: expected KEY.PATH=VALUE") for p in problems)


def test_saved_config_loads_back_identically(tmp_path):
    config = load_config(FIXTURES / "tutorial_training_n150.yaml",
                         ["data.train_file=x.jsonl", "lora.r=2"])
    save_config(config, tmp_path / "resolved.yaml")
    assert load_config(tmp_path / "resolved.yaml") == config


def test_a_dict_validates_like_a_file():
    config = load_config(data={"training_config": {"max_steps": 3}})
    assert config.training_config.max_steps == 3
    with pytest.raises(ConfigError, match="<config>: training_config.max_steps"):
        load_config(data={"training_config": {"max_steps": "3"}})


@pytest.mark.parametrize("path", sorted((FIXTURES.parents[2] / "examples" / "configs").glob("*.yaml")),
                         ids=lambda p: p.name)
def test_every_shipped_config_validates_with_every_section(path):
    config = load_config(path)
    assert config.data is not None and config.training_config.max_steps
    assert config.logging_config.output_dir.split("/")[0] == "output"
