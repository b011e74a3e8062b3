#!/usr/bin/env bash
# Installs lanhar-fl and runs the main job on the embedded `synthetic` dataset.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/setup.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 FLWR_DISABLE_UPDATE_CHECK=1
lanhar-fl data summary dataset=synthetic "$@"
