"""Rendering records and masking the loss on prompt tokens."""

import pytest
from tokenizers import processors

from ttcustom.data import IGNORE_INDEX, encode_segments, encode_text, format_prompt, render_segments
from ttcustom.data.formats import DEFAULT_CHAT_TEMPLATE


def decode_trained(tok, ids, labels):
    return tok.decode([t for t, label in zip(ids, labels) if label != IGNORE_INDEX])


def test_prompt_response_uses_the_tutorial_template_and_trains_on_the_response(eos_byte_tok):
    segments = render_segments({"prompt": "Why?", "response": "Because."}, "prompt_response")
    ids, labels = encode_segments(eos_byte_tok, segments)
    assert eos_byte_tok.decode(ids) == "### Question:\nWhy?\n\n### Answer:\nBecause.<|endoftext|>"
    assert decode_trained(eos_byte_tok, ids, labels) == "Because.<|endoftext|>"


def test_train_on_prompt_keeps_every_label(eos_byte_tok):
    segments = render_segments({"prompt": "Why?", "completion": " Because."}, "prompt_completion")
    ids, labels = encode_segments(eos_byte_tok, segments, train_on_prompt=True)
    assert labels == ids


@pytest.mark.parametrize("extra, header", [("", "### Instruction:\nSum\n\n### Response:\n"),
                                           ("2 2", "### Input:\n2 2\n\n### Response:\n")])
def test_alpaca_template_with_and_without_input(byte_tok, extra, header):
    record = {"instruction": "Sum", "input": extra, "output": "4"}
    segments = render_segments(record, "alpaca")
    assert segments[0].text.endswith(header)
    ids, labels = encode_segments(byte_tok, segments)
    assert decode_trained(byte_tok, ids, labels) == "4"


def test_text_records_are_trained_everywhere(byte_tok):
    ids, labels = encode_segments(byte_tok, render_segments({"text": "abc"}, "text"))
    assert ids == labels == [97, 98, 99]


def test_chat_trains_only_on_assistant_turns_with_the_default_template(eos_byte_tok):
    messages = [{"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Hello!"},
                {"role": "user", "content": "Bye"},
                {"role": "assistant", "content": "Ciao!"}]
    segments = render_segments({"messages": messages}, "chat", eos_byte_tok)
    ids, labels = encode_segments(eos_byte_tok, segments, add_eos=False)
    full = eos_byte_tok.apply_chat_template(messages, chat_template=DEFAULT_CHAT_TEMPLATE,
                                            tokenize=False)
    assert eos_byte_tok.decode(ids) == full
    assert decode_trained(eos_byte_tok, ids, labels) == ("Hello!<|endoftext|>\n"
                                                         "Ciao!<|endoftext|>\n")


def test_chat_uses_the_tokenizers_own_template(byte_tok):
    byte_tok.chat_template = ("{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}\n"
                              "{% endfor %}{% if add_generation_prompt %}[assistant] {% endif %}")
    messages = [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}]
    segments = render_segments({"messages": messages}, "chat", byte_tok)
    assert [(s.text, s.trainable) for s in segments] == [("[user] 2+2?\n[assistant] ", False),
                                                         ("4\n", True)]
    assert format_prompt("2+2?", "chat", byte_tok) == "[user] 2+2?\n[assistant] "


def test_generation_prompt_matches_the_training_prompt():
    segments = render_segments({"prompt": "Why?", "response": "x"}, "prompt_response")
    assert format_prompt("Why?", "prompt_response") == segments[0].text


@pytest.mark.parametrize("adds_bos", [False, True])
def test_bos_is_added_exactly_when_the_tokenizer_adds_it_to_a_text_prompt(eos_byte_tok, adds_bos):
    if adds_bos:  # as Llama's tokenizer: "<s>" before every text
        eos_byte_tok._tokenizer.post_processor = processors.TemplateProcessing(
            single="<|endoftext|> $A", special_tokens=[("<|endoftext|>", 256)])
    text = "### Question:\nWhy?"
    assert encode_text(eos_byte_tok, text) == eos_byte_tok(text).input_ids  # transformers, vLLM
    ids, _ = encode_segments(eos_byte_tok, render_segments({"prompt": "Why?", "response": "x"},
                                                           "prompt_response"))
    assert (ids[0] == 256) == adds_bos
