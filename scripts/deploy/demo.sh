#!/usr/bin/env bash
# The whole deployment on this machine, start to finish: certificates, one local dataset per
# phone, the SuperLink (TLS + SuperNode authentication), key registration, N SuperNodes, one
# run of the app, then every process stopped (also on Ctrl-C or error).
# Usage: demo.sh [NODES] [OVERRIDE ...]    default: 3 phones, preset=smoke rounds=2
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/common.sh"
nodes="${1:-3}"
shift || true
trap '"$here/stop.sh"' EXIT

if [ ! -f "$CERTS/supernode_$nodes" ]; then
    "$here/certs.sh" "$nodes"
fi
"$here/node-data.sh" "$nodes"
"$here/superlink.sh"
keys=()
for i in $(seq 1 "$nodes"); do keys+=("$CERTS/supernode_$i.pub"); done
"$here/register.sh" "${keys[@]}"
for i in $(seq 1 "$nodes"); do
    "$here/supernode.sh" "$i" "$DEPLOY_DIR/data/node_$i" uci_hapt
done
enough_online() { [ "$(online_nodes)" -ge "$nodes" ]; }
wait_for 120 "$nodes SuperNodes online" enough_online
echo "$nodes SuperNodes online"
"$here/run.sh" "$@"
