#!/usr/bin/env bash
# Start the SuperLink with TLS and SuperNode authentication, in the background, and point the
# Flower CLI at it (connection $CONNECTION in $FLWR_HOME/config.toml). Needs certs.sh first.
# Extra arguments go to flower-superlink (e.g. --database state.db to keep registrations).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
need flower-superlink flower-superexec flwr
for f in ca.crt server.pem server.key; do
    [ -f "$CERTS/$f" ] || die "$CERTS/$f is missing: run scripts/deploy/certs.sh first"
done
if port_open "$SUPERLINK_BIND" "$SUPERLINK_PORT"; then
    die "port $SUPERLINK_PORT is already in use on $SUPERLINK_BIND (set SUPERLINK_PORT)"
fi
start_bg superlink flower-superlink \
    --ssl-ca-certfile "$CERTS/ca.crt" \
    --ssl-certfile "$CERTS/server.pem" \
    --ssl-keyfile "$CERTS/server.key" \
    --enable-supernode-auth \
    --host "$SUPERLINK_BIND" --port "$SUPERLINK_PORT" \
    --disable-runtime-dependency-installation "$@"

use_connection
# Ready when its own log says uvicorn serves (a port answering could be another program).
pid="$(cat "$PIDS/superlink.pid")"
for _ in $(seq 1 120); do
    grep -q "Uvicorn running on" "$LOGS/superlink.log" 2>/dev/null && break
    if ! kill -0 "$pid" 2>/dev/null; then
        tail -n 20 "$LOGS/superlink.log" >&2
        die "the SuperLink exited (log: $LOGS/superlink.log)"
    fi
    sleep 0.5
done
grep -q "Uvicorn running on" "$LOGS/superlink.log" || die "the SuperLink did not start within 60 s"
echo "SuperLink up on $SUPERLINK_ADDRESS (TLS, SuperNode authentication); FLWR_HOME=$FLWR_HOME"
