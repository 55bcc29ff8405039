"""Hostile run configs: bounded parsing, one ConfigError naming file:line or the --set flag."""

import time

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ttcustom.train.config import ConfigError, load_config

BASE = "training_config: {max_steps: 1}\n"


def config_file(tmp_path, text, name="run.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def billion_laughs(levels=9):
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n" + BASE


@pytest.mark.parametrize("text,match", [
    (billion_laughs(), r"run.yaml:1: not valid YAML: the YAML aliases expand to more than"),
    ("training_config: &t {max_steps: 1, x: *t}\n", r"run.yaml:1: .*recursive alias"),
    ("training_config: " + "[" * 5000 + "]" * 5000 + "\n", r"run.yaml:1: .*nested deeper than"),
])
def test_a_denial_of_service_yaml_is_refused_fast(tmp_path, text, match):
    start = time.perf_counter()
    with pytest.raises(ConfigError, match=match):
        load_config(config_file(tmp_path, text))
    assert time.perf_counter() - start < 5


def test_ordinary_anchors_still_work(tmp_path):
    config = load_config(config_file(tmp_path, "training_config: {max_steps: &n 3, "
                                               "checkpoint_frequency: *n}\n"))
    assert config.training_config.checkpoint_frequency == 3


def test_a_config_that_is_not_utf8_names_the_file(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_bytes(b"training_config: {max_steps: 1}\n# caf\xe9\n")
    with pytest.raises(ConfigError, match="run.yaml: not UTF-8 text"):
        load_config(path)


@pytest.mark.parametrize("flag,match", [
    ("training_config.learning_rate=[1,", r"--set training_config.learning_rate=\[1,: the value "
                                          "is not valid YAML"),
    ("training_config..seed=1", r"--set training_config..seed=1: .* has an empty part"),
    ("training_config.seed=*x", r"--set training_config.seed=\*x: the value is not valid YAML"),
    ("training_config.seed=&a [*a]", r"--set training_config.seed=&a \[\*a\]: .*recursive alias"),
    ("training_config.learning_rate=fast", r"--set training_config.learning_rate: "
                                           "training_config.learning_rate: Input should be"),
])
def test_a_bad_set_flag_is_named_in_the_error(flag, match):
    with pytest.raises(ConfigError, match=match):
        load_config(data={"training_config": {"max_steps": 1}}, overrides=[flag])


keys = st.sampled_from(["training_config", "max_steps", "learning_rate", "model_config",
                        "hidden_dim", "data", "logging_config", "output_dir", "x", "<<"])
values = st.recursive(st.none() | st.booleans() | st.integers(-5, 5) | st.floats()
                      | st.text(max_size=5),
                      lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
                      max_leaves=10)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(keys, values, max_size=4))
def test_fuzzed_configs_load_or_raise_config_error(tmp_path, document):
    path = config_file(tmp_path, yaml.safe_dump(document))
    try:
        load_config(path)
    except ConfigError:
        pass


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=30))
def test_fuzzed_set_flags_load_or_raise_config_error(flag):
    try:
        load_config(data={"training_config": {"max_steps": 1}}, overrides=[flag])
    except ConfigError:
        pass
