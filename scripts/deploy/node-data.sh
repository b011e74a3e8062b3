#!/usr/bin/env bash
# One local dataset folder per SuperNode, in the UCI HAPT RawData layout, in $DEPLOY_DIR/data.
# Usage: node-data.sh [NODES] [--from-hapt DIR | --minutes M --seed S]
#   default: one synthetic phone per node (no downloads); --from-hapt: real HAPT split by user.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
need python
nodes="${1:-3}"
shift || true
python -m lanhar_fl.deploy.node_data "$DEPLOY_DIR/data" --nodes "$nodes" "$@"
