"""The configuration reference, generated from the run-config schema at build time.

Every key of every section comes from `ttcustom.train.config.RunConfig` (its JSON
schema: types, defaults, bounds, allowed values, descriptions), and the tutorial's
keys from `TUTORIAL_KEYS`, so the page cannot disagree with what the loader accepts.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

MARKER = "<!-- config-reference -->"
ROOT = Path(__file__).resolve().parent.parent.parent

_BOUNDS = (("exclusiveMinimum", ">"), ("minimum", "≥"), ("exclusiveMaximum", "<"),
           ("maximum", "≤"))


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def type_text(prop: dict[str, Any], section_keys: dict[str, str]) -> str:
    """A short human type for one JSON-schema property: `int > 0`, `"a" | "b"`, ..."""
    if "$ref" in prop:
        key = section_keys[_ref_name(prop["$ref"])]
        return f"section [`{key}`](#{key.replace('.', '')})"
    if "anyOf" in prop:
        options = [o for o in prop["anyOf"] if o.get("type") != "null"]
        text = " or ".join(type_text(o, section_keys) for o in options)
        return text + (" or null" if len(options) < len(prop["anyOf"]) else "")
    if "enum" in prop:
        return " | ".join(f"`{json.dumps(v)}`" for v in prop["enum"])
    if "const" in prop:
        return f"`{json.dumps(prop['const'])}` only"
    kind = {"integer": "int", "number": "float", "string": "str", "boolean": "bool",
            "array": "list"}.get(prop.get("type"), prop.get("type", "any"))
    if kind == "list":
        item = type_text(prop.get("items", {}), section_keys)
        length = prop.get("minItems") if prop.get("minItems") == prop.get("maxItems") else None
        kind = f"list of {item}" + (f", length {length}" if length else "")
    bounds = [f"{sign} {prop[key]}" for key, sign in _BOUNDS if key in prop]
    return kind + (" " + ", ".join(bounds) if bounds else "")


def _default_text(prop: dict[str, Any], required: bool) -> str:
    if required:
        return "**required**"
    if "$ref" in prop:
        return "defaults"
    return f"`{json.dumps(prop.get('default'))}`"


def _cell(text: str) -> str:
    return text.replace("\n", " ").replace("|", "\\|")


def _section_keys(schema: dict[str, Any]) -> dict[str, str]:
    """Schema definition name -> dotted config key, e.g. TokenizerSection -> data.tokenizer."""
    keys: dict[str, str] = {}

    def visit(props: dict[str, Any], prefix: str) -> None:
        for key, prop in props.items():
            refs = [prop] + prop.get("anyOf", [])
            for ref in (r["$ref"] for r in refs if "$ref" in r):
                name = _ref_name(ref)
                keys[name] = prefix + key
                visit(schema["$defs"][name]["properties"], prefix + key + ".")

    visit(schema["properties"], "")
    return keys


def render(schema: dict[str, Any], tutorial_keys: dict[str, str]) -> str:
    """Markdown: one table per section (in schema order), then the tutorial key map."""
    keys = _section_keys(schema)
    out: list[str] = []
    for name, key in keys.items():
        section = schema["$defs"][name]
        parent = schema if "." not in key else None
        required = key in (parent or {}).get("required", [])
        level = "##" if "." not in key else "###"
        out += ["", f"{level} `{key}`", ""]
        if section.get("description"):
            out += [section["description"], ""]
        if "." not in key:
            out += ["This section is **required**." if required else "This section is optional.", ""]
        props = section["properties"]
        described = any("description" in prop for prop in props.values())
        out += ["| key | type | default |" + (" meaning |" if described else ""),
                "| --- | --- | --- |" + (" --- |" if described else "")]
        needed = section.get("required", [])
        for field, prop in props.items():
            row = (f"| `{field}` | {_cell(type_text(prop, keys))} | "
                   f"{_default_text(prop, field in needed)} |")
            out.append(row + (f" {_cell(prop.get('description', ''))} |" if described else ""))
    out += ["", "## Tutorial keys", "",
            "The tt-train tutorial puts these keys in `training_config`; they are accepted "
            "as written and moved to their place before validation.", "",
            "| tutorial key | becomes |", "| --- | --- |"]
    out += [f"| `training_config.{k}` | `{v}` |" for k, v in tutorial_keys.items()]
    return "\n".join(out) + "\n"


def on_page_markdown(markdown: str, page, config, files) -> str:  # noqa: ANN001 (mkdocs hook)
    """mkdocs hook: fill the marker on the configuration reference page."""
    if MARKER not in markdown:
        return markdown
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from ttcustom.train.config import TUTORIAL_KEYS, RunConfig

    schema = RunConfig.model_json_schema(by_alias=True)
    return markdown.replace(MARKER, render(schema, TUTORIAL_KEYS))
