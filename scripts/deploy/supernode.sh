#!/usr/bin/env bash
# Start SuperNode I (a phone) in the background with its own local data and key.
# Usage: supernode.sh I DATA_PATH [DATASET]
#   I          1, 2, ...: uses $CERTS/supernode_I (private key) and port SUPERNODE_PORT0 + I
#   DATA_PATH  this phone's dataset folder (e.g. made by node-data.sh)
#   DATASET    its loader: uci_hapt (default), uci_har, hhar, motionsense, shoaib, wisdm, ...
# Node config sent to the ClientApp: data-path, dataset, phone-id=I, cache-dir (per node).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
need flower-supernode flower-superexec
[ "$#" -ge 2 ] || die "usage: supernode.sh I DATA_PATH [DATASET]"
i="$1"; data="$(cd "$2" && pwd)"; dataset="${3:-uci_hapt}"
key="${SUPERNODE_KEY:-$CERTS/supernode_$i}"
[ -f "$key" ] || die "$key is missing (scripts/deploy/certs.sh makes supernode_1..N)"
[ -f "$CERTS/ca.crt" ] || die "$CERTS/ca.crt is missing"
cache="$DEPLOY_DIR/node_$i-cache"
mkdir -p "$cache"
start_bg "supernode_$i" flower-supernode \
    --superlink "$SUPERLINK_ADDRESS" \
    --root-certificates "$CERTS/ca.crt" \
    --auth-supernode-private-key "$key" \
    --port "$((SUPERNODE_PORT0 + i))" \
    --node-config "data-path=\"$data\" dataset=\"$dataset\" phone-id=$i cache-dir=\"$cache\""
