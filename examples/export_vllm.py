"""Export a LoRA fine-tune for serving: a PEFT adapter and a merged transformers checkpoint.

    python examples/export_vllm.py                        # a small Llama made here
    python examples/export_vllm.py --model PATH/TinyLlama  # your base checkpoint

1. loads the base checkpoint and puts LoRA adapters on q_proj and v_proj;
2. trains them briefly on the trickster data;
3. writes the adapter alone (PEFT format) and the merged model (transformers format);
4. loads both back with transformers and peft and checks they compute what ttcustom
   computes;
5. prints the vLLM commands that serve each (and runs vLLM when it is installed).
Set TTCUSTOM_EXAMPLE_FAST=1 for a shorter run (the test suite does).
Lesson: docs/lessons/export-serving.md
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import torch

import ttcustom as tc
from ttcustom.data import (
    DataLoader,
    byte_tokenizer,
    encode_text,
    format_prompt,
    load_jsonl_dataset,
    load_tokenizer,
    save_tokenizer,
)
from ttcustom.export import merge_lora, to_hf, to_peft
from ttcustom.lora import apply_lora
from ttcustom.models import ModelConfig, build_model, from_hf

FAST = os.environ.get("TTCUSTOM_EXAMPLE_FAST") == "1"
TRICKSTER = Path(__file__).resolve().parent / "data" / "trickster_train.jsonl"


def small_base(out: Path) -> Path:
    """Stand-in for TinyLlama on a laptop: a small random Llama saved as a checkpoint."""
    config = ModelConfig(model_type="llama", vocab_size=256, hidden_size=128,
                         intermediate_size=384, num_hidden_layers=4, num_attention_heads=4,
                         num_key_value_heads=2, max_position_embeddings=512)
    to_hf(build_model(config), out, dtype=torch.float32)
    save_tokenizer(byte_tokenizer(), out)
    return out


def finetune_lora(model, tokenizer, steps: int) -> None:
    """A few AdamW steps on the adapters only (the base is frozen by apply_lora)."""
    report = load_jsonl_dataset(TRICKSTER, tokenizer=tokenizer, max_length=128, truncate=True)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = tc.optim.AdamW(params, lr=1e-2)
    batches = iter(DataLoader(report.examples, batch_size=4, seed=0))
    for step in range(1, steps + 1):
        batch = next(batches)
        loss = model(batch["input_ids"], batch["attention_mask"], batch["labels"]).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        if step % 5 == 0:
            print(f"  step {step:>3}  loss {loss.item():.3f}")


def max_logit_difference(ours: torch.Tensor, model, ids: torch.Tensor) -> float:
    with torch.no_grad():
        theirs = model(ids).logits.float()
    return (theirs - ours).abs().max().item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="base transformers checkpoint (default: a small Llama)")
    parser.add_argument("--out", default="output/export")
    parser.add_argument("--steps", type=int, default=10 if FAST else 60)
    args = parser.parse_args()
    out = Path(args.out)
    tc.manual_seed(0)

    print("1. base model + LoRA")
    base = Path(args.model) if args.model else small_base(out / "base")
    tokenizer = load_tokenizer(base)
    model = apply_lora(from_hf(base, dtype=torch.float32), r=8, alpha=16,
                       target_modules=["q_proj", "v_proj"])
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    print(f"  {base}: {trainable:,} of {total:,} parameters trainable ({trainable / total:.1%})")

    print("2. fine-tune the adapters")
    finetune_lora(model, tokenizer, args.steps)

    print("3. export")
    adapter = to_peft(model, out / "adapter", base_model_name_or_path=str(base))
    merged = to_hf(merge_lora(model), out / "merged", tokenizer_dir=base)
    for directory in (adapter, merged):
        print(f"  {directory}: {', '.join(sorted(p.name for p in directory.iterdir()))}")

    print("4. load back with transformers and peft")
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    prompt = format_prompt("What is a learning rate?", "prompt_response")
    ids = torch.tensor([encode_text(tokenizer, prompt)])
    with tc.no_grad():
        ours = model(ids).logits.to_torch().float()
    hf_merged = AutoModelForCausalLM.from_pretrained(merged, dtype=torch.float32)
    hf_adapter = PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32), adapter)
    for name, hf_model in (("merged checkpoint", hf_merged), ("base + PEFT adapter", hf_adapter)):
        diff = max_logit_difference(ours, hf_model, ids)
        print(f"  transformers, {name}: max |logit difference| vs ttcustom = {diff:.2e}")
        assert diff < 1e-3, f"{name} does not compute what ttcustom computes"
    new = hf_merged.generate(ids, max_new_tokens=30, do_sample=False)[0, ids.shape[1]:]
    print(f"  transformers generates: {tokenizer.decode(new)!r}")

    print("5. serve with vLLM")
    print(f"  vllm serve {merged}")
    print(f"  vllm serve {base} --enable-lora --lora-modules trickster={adapter}")
    try:
        from vllm import LLM, SamplingParams
    except ImportError:
        print("  (vLLM is not installed here; on a Tenstorrent system use its vLLM build)")
        return
    llm = LLM(model=str(merged))
    result = llm.generate([prompt], SamplingParams(temperature=0.0, max_tokens=30))
    print(f"  vLLM generates: {result[0].outputs[0].text!r}")


if __name__ == "__main__":
    main()
