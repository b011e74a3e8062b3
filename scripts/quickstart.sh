#!/usr/bin/env bash
# Installs lanhar-fl and runs the main job on the embedded `synthetic` dataset: a federated
# LanHAR run over 20 simulated phones (stage 1 on the server, federated stage 2, zero-shot test).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/setup.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 FLWR_DISABLE_UPDATE_CHECK=1 FLWR_TELEMETRY_ENABLED=0
RUN_DIR="${RUN_DIR:-runs/quickstart}"
lanhar-fl data summary dataset=synthetic preset=demo
lanhar-fl simulate dataset=synthetic preset=demo run_dir="$RUN_DIR" overwrite=true "$@"
echo
echo "Results in $RUN_DIR: report.md, metrics.json, history.json, rounds.png, confusion.png"
