#!/usr/bin/env bash
# Register SuperNode public keys with the SuperLink: only registered keys may connect.
# Usage: register.sh [KEY.pub ...]   (default: every $CERTS/supernode_*.pub)
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
need flwr
use_connection
keys=("$@")
if [ "${#keys[@]}" -eq 0 ]; then
    shopt -s nullglob
    keys=("$CERTS"/supernode_*.pub)
fi
[ "${#keys[@]}" -gt 0 ] || die "no public keys given and none in $CERTS"
for key in "${keys[@]}"; do
    flwr supernode register "$key" "$CONNECTION"
done
