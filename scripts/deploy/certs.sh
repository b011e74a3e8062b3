#!/usr/bin/env bash
# Make the TLS and SuperNode-authentication material: CA, SuperLink certificate/key, one OpenSSH
# EC key pair per SuperNode, in $CERTS. Usage: certs.sh [NODES] [HOST ...]
# HOSTs: the names SuperNodes and `flwr` use to reach the SuperLink (default: localhost
# 127.0.0.1); every one goes into the certificate's subject alternative names.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
need lanhar-fl
nodes="${1:-3}"
shift || true
hosts="localhost,127.0.0.1"
if [ "$#" -gt 0 ]; then hosts="$(IFS=,; echo "$*")"; fi
lanhar-fl certs out="$CERTS" certs.supernodes="$nodes" "certs.hosts=[$hosts]"
