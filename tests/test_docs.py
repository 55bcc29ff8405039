"""The docs' generated pages (error catalogue, config reference) match the code they describe."""

from __future__ import annotations

import html
import importlib.util
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import ttcustom as tc
import ttcustom.functional as F
from ttcustom.train.config import TUTORIAL_KEYS, RunConfig, _section_type

ROOT = Path(__file__).resolve().parent.parent
HOOKS = ROOT / "docs" / "hooks"


def _load(name: str):
    """A docs hook module (docs/ is not a package), registered so dataclasses work."""
    spec = importlib.util.spec_from_file_location(f"docs_hooks.{name}", HOOKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


catalogue = _load("error_catalogue")
config_reference = _load("config_reference")
memory_tables = _load("memory_tables")

SOURCE = textwrap.dedent('''
    HINT = "run it with torchrun"

    def explain(x):
        return f"cannot use {x}"

    def fail(what):
        return DistributedError(f"{what} failed; " + HINT)

    def f(a, problems):
        if a:
            raise ValueError(f"bad {a.shape}: " "expected 2-d")
        raise KeyError("missing " + str(a))
        raise ConfigError([f"{a}: one", "two"])
        raise RuntimeError(f"x; {HINT}")
        raise fail("all-reduce")
        raise
        problems.append(f"line {a}: duplicate key")
        report.append(Issue(3, "too_long", f"{a} tokens"))
        RecordProblem("wrong_type", explain(a))
''')


def test_catalogue_reads_every_message_form():
    found = [(m.kind, m.text) for m in catalogue.messages_in(SOURCE, "mod")]
    assert found == [
        ("DistributedError", "{what} failed; run it with torchrun"),
        ("ValueError", "bad {a.shape}: expected 2-d"),
        ("KeyError", "missing {str(a)}"),
        ("ConfigError", "{a}: one"),
        ("ConfigError", "two"),
        ("RuntimeError", "x; run it with torchrun"),
        ("ConfigError", "line {a}: duplicate key"),
        ("issue: too_long", "{a} tokens"),
        ("issue: wrong_type", "cannot use {x}"),
    ]


def _as_regex(template: str) -> str:
    literal = re.split(r"\{[^{}]*\}", template)
    return ".*".join(re.escape(part) for part in literal)


def test_catalogue_templates_match_the_real_messages():
    messages = catalogue.collect()
    linear = [m for m in messages if m.module == "ttcustom.functional" and "in_features" in m.text]
    assert [m.kind for m in linear] == ["ValueError"]
    with pytest.raises(ValueError) as raised:
        F.linear(tc.randn(2, 5), tc.randn(3, 4))
    assert re.fullmatch(_as_regex(linear[0].text), str(raised.value))


def test_every_fix_matches_a_message():
    texts = [m.text for m in catalogue.collect()]
    stale = [e["match"] for e in catalogue.load_fixes() if not any(e["match"] in t for t in texts)]
    assert not stale, f"docs/hooks/errors.yml entries that match no message any more: {stale}"


def test_catalogue_rows_show_messages_literally():
    """Backticks, underscores, braces and pipes in a message survive Markdown unchanged."""
    markdown = pytest.importorskip("markdown", reason="docs extra not installed")
    text = "{fn}: `{name}` got {type(v).__name__}; {' | '.join(parts)} *not bold*"
    page = catalogue.render([catalogue.Message("m", 1, "TypeError", text)], [])
    html_page = markdown.markdown(page, extensions=["tables", "attr_list"])
    cells = re.findall(r"<td>(.*?)</td>", html_page)
    assert len(cells) == 3
    assert re.fullmatch(r"<code>[^<]*</code>", cells[1]), cells[1]  # no markup inside
    assert html.unescape(cells[1][len("<code>"):-len("</code>")]) == text


def test_the_longest_matching_fix_wins():
    message = catalogue.Message("m", 1, "ValueError", "text corpus {path} is empty")
    fixes = [{"match": "is empty", "fix": "general"},
             {"match": "text corpus {path} is empty", "fix": "specific"}]
    assert catalogue.fix_for(message, fixes) == "specific"


def _fields(model, prefix=""):
    """Dotted key of every field of every section reachable from `model`."""
    for name, field in model.model_fields.items():
        key = prefix + (field.alias or name)
        section = _section_type(field.annotation)
        if section is None:
            yield key
        else:
            yield from _fields(section, key + ".")


def test_config_reference_lists_every_key_of_the_schema():
    page = config_reference.render(RunConfig.model_json_schema(by_alias=True), TUTORIAL_KEYS)
    for key in _fields(RunConfig):
        section, _, field = key.rpartition(".")
        assert f"`{section}`" in page and f"| `{field}` |" in page, key
    assert "| `learning_rate` | float > 0 | `0.0001` |" in page
    assert "| `training_config.eval_every` | `training_config.validation_frequency` |" in page


def test_hardware_guide_batch_table_backs_its_advice():
    """The guide tells N150 users to start from the tutorial's batch of 8 for CT-4: the
    planner's table must show that it fits, for the LoRA settings of the shipped config."""
    table = memory_tables.batch_table()
    rows = [line for line in table.splitlines()[2:]]
    assert len(rows) == len(memory_tables.workloads())
    lora_row = next(r for r in rows if "LoRA r=16 (q_proj, k_proj, v_proj, o_proj)" in r)
    n150 = lora_row.split("|")[2].strip()
    assert int(n150) >= 8


def test_docs_build_strict(tmp_path):
    pytest.importorskip("mkdocs", reason="docs extra not installed (pip install -e '.[docs]')")
    pytest.importorskip("mkdocstrings", reason="docs extra not installed")
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir",
                           str(tmp_path / "site")], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert proc.returncode == 0, proc.stderr


def test_examples_readme_lists_every_example():
    readme = (ROOT / "examples" / "README.md").read_text(encoding="utf-8")
    missing = [p.name for p in (ROOT / "examples").glob("*.py") if p.name not in readme]
    assert not missing, f"examples/README.md does not mention {missing}"
