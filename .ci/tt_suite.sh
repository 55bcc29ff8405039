#!/usr/bin/env bash
# tt backend suites (golden, contract, hardware) in a Python 3.12 (or 3.10) virtual
# environment with the real ttnn wheel, which exists for those two versions only.
# Without a card the hardware tests skip, saying why.
#
#   TTCUSTOM_TT_VENV   where the venv lives (default: .venv-tt in the repo, git-ignored)
#   TTCUSTOM_TT_PYTHON the interpreter to build it from (default: found below)
set -euo pipefail
cd "$(dirname "$0")/.."

find_python() {
  local candidate
  for candidate in "${TTCUSTOM_TT_PYTHON:-}" /root/.pyenv/versions/3.12.1/bin/python \
      python3.12 python3.10; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
        "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] not in ((3, 12), (3, 10)))' \
          2>/dev/null; then
      command -v "$candidate"
      return 0
    fi
  done
  return 1
}

if ! python_bin="$(find_python)"; then
  echo "tt suite SKIPPED: no Python 3.12 or 3.10 interpreter found (ttnn publishes wheels"
  echo "for those only). Install one, or point TTCUSTOM_TT_PYTHON at it."
  exit 0
fi

venv="${TTCUSTOM_TT_VENV:-.venv-tt}"
echo "tt suite: $("$python_bin" --version) from $python_bin, venv $venv"
if [ ! -x "$venv/bin/python" ]; then
  "$python_bin" -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q --upgrade pip
"$venv/bin/python" -m pip install -q torch
"$venv/bin/python" -m pip install -q -e ".[tt,test]"
"$venv/bin/python" -m pip list 2>/dev/null | grep -E "^(ttnn|torch) " || true
"$venv/bin/python" -m pytest tests/tt tests/models/test_tt_golden.py \
  tests/distributed/test_mesh_golden.py tests/distributed/test_mesh_hardware.py -q -rs
