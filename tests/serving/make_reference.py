"""For .ci/vllm_suite.sh, in the project's environment (transformers 5): the main job's base
model as a transformers directory (the adapter's base, for vLLM and peft), and reference
ids and logits of the merged export for the transformers 4.x check in the vLLM venv.

    python tests/serving/make_reference.py OUT     # OUT: the main job's output directory
"""

import sys
from pathlib import Path

import torch
import transformers

import ttcustom as tc
from ttcustom.train.config import load_config

PROMPTS = ["What is a neural network?", "What is overfitting?", "Explain gradient descent."]


def main(out: Path) -> None:
    base_path = load_config(out / "config.yaml").model.path
    base_dir = out / "export" / "base"
    tc.export.to_hf(tc.models.from_hf(base_path), base_dir, dtype=torch.float32)
    tc.data.save_tokenizer(tc.data.load_tokenizer(base_path), base_dir)
    merged = out / "export" / "vllm"
    tokenizer = transformers.AutoTokenizer.from_pretrained(merged)
    model = transformers.AutoModelForCausalLM.from_pretrained(merged, dtype=torch.float32).eval()
    reference = []
    for prompt in PROMPTS:
        text = tokenizer.apply_chat_template([{"role": "user", "content": prompt}],
                                             tokenize=False, add_generation_prompt=True)
        ids = tokenizer(text, return_tensors="pt", add_special_tokens=False).input_ids
        with torch.no_grad():
            reference.append({"text": text, "ids": ids[0].tolist(),
                              "logits": model(ids).logits[0]})
    torch.save({"rope_theta": model.config.rope_parameters["rope_theta"], "prompts": reference},
               out / "export" / "reference_logits.pt")
    print(f"wrote {base_dir} and {out / 'export' / 'reference_logits.pt'} "
          f"(transformers {transformers.__version__})")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
