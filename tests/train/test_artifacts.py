"""final_model/ and `ttcustom export --to hf`: served the way the run trained."""

import transformers

from tests.models.hf_helpers import hf_model
from ttcustom.data import byte_tokenizer, format_prompt
from ttcustom.models import from_hf
from ttcustom.train.artifacts import save_model_dir

CHATML = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
          "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


def chat_tokenizer():
    """An Instruct-style tokenizer: its own ChatML template, EOS that is not the model's."""
    tokenizer = byte_tokenizer()
    tokenizer.add_special_tokens({"bos_token": "<|im_start|>", "eos_token": "<|im_end|>"})
    tokenizer.chat_template = CHATML
    return tokenizer


def test_a_prompt_response_run_is_prompted_in_its_training_format(tmp_path):
    out = save_model_dir(from_hf(hf_model("llama")), tmp_path / "final_model", chat_tokenizer(),
                         "prompt_response")
    served = transformers.AutoTokenizer.from_pretrained(out)
    text = served.apply_chat_template([{"role": "user", "content": "Why?"}], tokenize=False,
                                      add_generation_prompt=True)
    assert text == format_prompt("Why?", "prompt_response")  # no BOS: this tokenizer adds none


def test_generation_stops_at_the_eos_the_examples_end_with(tmp_path):
    model = from_hf(hf_model("llama"))
    tokenizer = chat_tokenizer()
    out = save_model_dir(model, tmp_path / "final_model", tokenizer, "prompt_response")
    config = transformers.GenerationConfig.from_pretrained(out)
    assert config.eos_token_id == [model.config.eos_token_id, tokenizer.eos_token_id]
