#!/usr/bin/env bash
# README command 1, end to end on a CPU (a few minutes on 2 cores):
#   validate the trickster data, LoRA fine-tune the shipped starter Llama on it (progress
#   bar, falling loss, samples at each evaluation), compare base and fine-tuned answers,
#   export a PEFT adapter and a bfloat16 transformers/vLLM directory.
# TTCUSTOM_CI=1 runs the same commands with a few steps (used by the test suite).
set -euo pipefail
cd "$(dirname "$0")/.."

TTCUSTOM=${TTCUSTOM:-"python -m ttcustom"}
OUT=${OUT:-output}
STARTER=examples/checkpoints/tiny-llama-starter
SHORT=()
if [[ "${TTCUSTOM_CI:-0}" == "1" ]]; then
  SHORT=(--set training_config.max_steps=4 --set training_config.warmup_steps=1
         --set training_config.validation_frequency=2 --set training_config.checkpoint_frequency=2
         --set eval_config.max_new_tokens=8)
fi

echo "== 1. validate the dataset"
$TTCUSTOM data validate examples/data/trickster_train.jsonl --tokenizer "$STARTER" --max-length 320

echo "== 2. LoRA fine-tune (loss, lr, tokens/s and ETA in the progress bar)"
$TTCUSTOM train examples/configs/trickster_lora.yaml --output-dir "$OUT" --overwrite "${SHORT[@]}"

echo "== 3. base vs fine-tuned"
$TTCUSTOM generate --model "$OUT/final_model" --compare "$STARTER" \
  --prompt "What is a neural network?" --prompt "What is overfitting?" \
  --max-new-tokens "${MAX_NEW_TOKENS:-40}"

echo "== 4. export"
$TTCUSTOM export --checkpoint "$OUT" --to peft "$OUT/export/adapter"
$TTCUSTOM export --checkpoint "$OUT" --to hf "$OUT/export/vllm" --dtype bfloat16
echo "serve it with:  vllm serve $OUT/export/vllm"
