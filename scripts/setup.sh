#!/usr/bin/env bash
# Creates .venv (if missing) and installs lanhar-fl into it. Sourced by quickstart.sh and test.sh.
# torch is installed first, pinned to a CPU build where one is available: a bare `torch`
# requirement would otherwise pull a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
# shellcheck disable=SC1091
. .venv/bin/activate
export PIP_DISABLE_PIP_VERSION_CHECK=1
if ! python -c "import torch" 2>/dev/null; then
  pip install -q "torch==${LANHAR_TORCH_VERSION:-2.13.0}" \
    || pip install -q "torch>=2.3,<2.15" --index-url https://download.pytorch.org/whl/cpu
fi
pip install -q -e ".[dev]"
