#!/usr/bin/env bash
# Installs lanhar-fl with its dev extras, lints, and runs the test suite.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/setup.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 FLWR_DISABLE_UPDATE_CHECK=1 FLWR_TELEMETRY_ENABLED=0
ruff check .
# pytest exits 5 when it collects no tests: that is a failure here, as is any other non-zero.
python -m pytest "$@"
