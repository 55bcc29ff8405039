"""JSONL record formats: field checks and rendering into prompt / trainable segments.

A record becomes a list of `Segment(text, trainable)`; the tokenizer step turns the
segments into ids and masks the loss on segments that are not trainable. Formats:

| name | fields | rendering |
| --- | --- | --- |
| `prompt_response` | prompt, response | the tutorial's `### Question:\\n{prompt}\\n\\n### Answer:\\n` + response |
| `prompt_completion` | prompt, completion | prompt + completion, verbatim |
| `alpaca` | instruction, input (optional), output | the Alpaca template + output |
| `text` | text | the text, all trainable |
| `chat` | messages: [{role, content}] | the tokenizer's chat template (or `DEFAULT_CHAT_TEMPLATE`) |
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PROMPT_RESPONSE_TEMPLATE = "### Question:\n{prompt}\n\n### Answer:\n"

ALPACA_TEMPLATE = (
    "Below is an instruction that describes a task, paired with an input that provides "
    "further context. Write a response that appropriately completes the request.\n\n"
    "### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n"
)
ALPACA_TEMPLATE_NO_INPUT = (
    "Below is an instruction that describes a task. Write a response that appropriately "
    "completes the request.\n\n### Instruction:\n{instruction}\n\n### Response:\n"
)

#: Used for `chat` records when the tokenizer has no chat template (Zephyr/TinyLlama-chat style).
DEFAULT_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "<|{{ message['role'] }}|>\n{{ message['content'] }}{{ eos_token }}\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)

CHAT_ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class FormatSpec:
    name: str
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()


FORMATS: dict[str, FormatSpec] = {
    spec.name: spec
    for spec in (
        FormatSpec("prompt_response", ("prompt", "response")),
        FormatSpec("prompt_completion", ("prompt", "completion")),
        FormatSpec("alpaca", ("instruction", "output"), ("input",)),
        FormatSpec("chat", ("messages",)),
        FormatSpec("text", ("text",)),
    )
}
FORMAT_NAMES = tuple(FORMATS)


@dataclass(frozen=True)
class Segment:
    text: str
    trainable: bool


@dataclass(frozen=True)
class RecordProblem:
    """Why one record is unusable: `kind` is a stable error code, `message` says what to fix."""

    kind: str
    message: str


def detect_format(record: Any) -> str | None:
    """The format whose required fields `record` has (most specific first), else None."""
    if not isinstance(record, dict):
        return None
    for name in ("chat", "alpaca", "prompt_response", "prompt_completion", "text"):
        if all(key in record for key in FORMATS[name].required):
            return name
    return None


def check_record(record: Any, fmt: str) -> list[RecordProblem]:
    """Every problem that stops `record` from being rendered in format `fmt`."""
    if not isinstance(record, dict):
        return [RecordProblem("wrong_type", f"expected a JSON object, got {_json_type(record)}")]
    spec = FORMATS[fmt]
    problems = []
    for key in spec.required:
        if key not in record:
            present = ", ".join(sorted(record)) or "none"
            problems.append(RecordProblem(
                "missing_field", f"missing field {key!r} for format {fmt!r} (fields present: {present})"))
    if fmt == "chat":
        if "messages" in record:
            problems += _check_messages(record["messages"])
        return problems
    for key in spec.required + spec.optional:
        if key in record:
            problems += _check_string(key, record[key], allow_empty=key in spec.optional)
    return problems


def _check_string(key: str, value: Any, allow_empty: bool) -> list[RecordProblem]:
    if not isinstance(value, str):
        return [RecordProblem("wrong_type", f"field {key!r} must be a string, got {_json_type(value)}")]
    if not allow_empty and not value.strip():
        return [RecordProblem("empty_field", f"field {key!r} is empty")]
    return []


def _check_messages(messages: Any) -> list[RecordProblem]:
    if not isinstance(messages, list):
        return [RecordProblem("wrong_type",
                              f"field 'messages' must be a list, got {_json_type(messages)}")]
    if not messages:
        return [RecordProblem("empty_field", "field 'messages' is an empty list")]
    problems = []
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(message, dict):
            problems.append(RecordProblem("wrong_type",
                                          f"{where} must be an object, got {_json_type(message)}"))
            continue
        for key in ("role", "content"):
            if key not in message:
                problems.append(RecordProblem("missing_field", f"{where} has no {key!r}"))
            else:
                problems += [RecordProblem(p.kind, f"{where}: {p.message}")
                             for p in _check_string(key, message[key], allow_empty=False)]
        role = message.get("role")
        if isinstance(role, str) and role.strip() and role not in CHAT_ROLES:
            problems.append(RecordProblem(
                "invalid_value", f"{where}.role is {role!r}; allowed roles: {', '.join(CHAT_ROLES)}"))
    if not problems and messages[0]["role"] == "assistant":
        problems.append(RecordProblem(
            "invalid_value", "messages[0] is an assistant turn; start with a system or user turn"))
    if not problems and not any(m["role"] == "assistant" for m in messages):
        problems.append(RecordProblem("missing_field",
                                      "messages has no 'assistant' turn, so nothing to train on"))
    return problems


def _json_type(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
             int: "a number", float: "a number", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def render_segments(record: dict, fmt: str, tokenizer: Any = None,
                    prompt_template: str | None = None) -> list[Segment]:
    """Split a checked record into prompt (not trainable) and answer (trainable) text."""
    if fmt == "text":
        return [Segment(record["text"], True)]
    if fmt == "prompt_response":
        template = prompt_template or PROMPT_RESPONSE_TEMPLATE
        return [Segment(template.format(prompt=record["prompt"]), False),
                Segment(record["response"], True)]
    if fmt == "prompt_completion":
        return [Segment(record["prompt"], False), Segment(record["completion"], True)]
    if fmt == "alpaca":
        extra = record.get("input") or ""
        template = ALPACA_TEMPLATE if extra.strip() else ALPACA_TEMPLATE_NO_INPUT
        return [Segment(template.format(instruction=record["instruction"], input=extra), False),
                Segment(record["output"], True)]
    if fmt == "chat":
        return render_chat(record["messages"], tokenizer)
    raise ValueError(f"unknown data format {fmt!r}; choose one of {FORMAT_NAMES}")


def format_prompt(prompt: str, fmt: str, tokenizer: Any = None,
                  prompt_template: str | None = None) -> str:
    """The text a model trained on `fmt` records should be given to answer `prompt`."""
    if fmt in ("text", "prompt_completion", "raw"):
        return prompt
    if fmt == "prompt_response":
        return (prompt_template or PROMPT_RESPONSE_TEMPLATE).format(prompt=prompt)
    if fmt == "alpaca":
        return ALPACA_TEMPLATE_NO_INPUT.format(instruction=prompt)
    if fmt == "chat":
        return _apply_template(tokenizer, [{"role": "user", "content": prompt}], True)
    raise ValueError(f"unknown prompt format {fmt!r}; choose one of {FORMAT_NAMES + ('raw',)}")


def prompt_chat_template(prompt_template: str | None = None, bos: bool = True) -> str:
    """A chat template that renders a user turn as `prompt_template` does (the tutorial's
    `### Question:` form by default), so chat front-ends (vLLM) prompt a model fine-tuned
    on prompt/response records the way it was trained. `bos`: the rendering starts with
    BOS (chat front-ends add no special tokens to a rendered conversation)."""
    head, _, tail = (prompt_template or PROMPT_RESPONSE_TEMPLATE).partition("{prompt}")
    return (("{{ bos_token or '' }}" if bos else "") + "{% for message in messages %}"
            "{% if message['role'] == 'user' %}" + _jinja_text(head)
            + "{{ message['content'] }}" + _jinja_text(tail)
            + "{% elif message['role'] == 'assistant' %}{{ message['content'] }}"
            "{{ eos_token or '' }}{% endif %}{% endfor %}")


def _jinja_text(text: str) -> str:
    return "{{ " + repr(text) + " }}" if text else ""


def render_chat(messages: list[dict], tokenizer: Any) -> list[Segment]:
    """Chat turns as segments; only assistant turns are trainable.

    Each assistant span is the difference between the conversation rendered up to and
    including that turn and rendered up to it with the generation prompt, so any chat
    template whose renderings extend each other works.
    """
    segments: list[Segment] = []
    done = ""
    for i, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        prefix = _apply_template(tokenizer, messages[:i], add_generation_prompt=True)
        full = _apply_template(tokenizer, messages[: i + 1], add_generation_prompt=False)
        if not prefix.startswith(done) or not full.startswith(prefix):
            raise ValueError("the chat template does not render conversations as extensions of "
                             "each other, so assistant turns cannot be located for loss masking")
        segments += [Segment(prefix[len(done):], False), Segment(full[len(prefix):], True)]
        done = full
    rest = _apply_template(tokenizer, messages, add_generation_prompt=False)[len(done):]
    if rest:
        segments.append(Segment(rest, False))
    return [s for s in segments if s.text]


def _apply_template(tokenizer: Any, messages: list[dict], add_generation_prompt: bool) -> str:
    if tokenizer is None:
        raise ValueError("chat records need a tokenizer (its chat template renders the turns)")
    template = getattr(tokenizer, "chat_template", None) or DEFAULT_CHAT_TEMPLATE
    return tokenizer.apply_chat_template(messages, chat_template=template, tokenize=False,
                                         add_generation_prompt=add_generation_prompt)
