# Shared settings of scripts/deploy/*.sh (sourced, not run). Every value can be overridden from
# the environment; docs/DEPLOYMENT.md explains each one.
#
#   DEPLOY_DIR         working folder: certs/, data/, logs/, pids/, flwr-home/, run/ (runs/deploy)
#   CERTS              folder made by `lanhar-fl certs` ($DEPLOY_DIR/certs)
#   SUPERLINK_BIND     address the SuperLink listens on (127.0.0.1; 0.0.0.0 across machines)
#   SUPERLINK_PORT     its one port: Fleet, Control and Runtime APIs (9093)
#   SUPERLINK_ADDRESS  host:port SuperNodes and `flwr` dial (127.0.0.1:$SUPERLINK_PORT); the host
#                      must be one of the certificate's names (lanhar-fl certs certs.hosts=[...])
#   SUPERNODE_PORT0    SuperNode i serves its local Runtime API on SUPERNODE_PORT0 + i (9200)
#   CONNECTION         name of the SuperLink connection in $FLWR_HOME/config.toml (lanhar)
#   FLWR_HOME          the Flower CLI's config folder ($DEPLOY_DIR/flwr-home, never ~/.flwr)

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DEPLOY_DIR="$(mkdir -p "${DEPLOY_DIR:-$ROOT/runs/deploy}" && cd "${DEPLOY_DIR:-$ROOT/runs/deploy}" && pwd)"
CERTS="${CERTS:-$DEPLOY_DIR/certs}"
SUPERLINK_BIND="${SUPERLINK_BIND:-127.0.0.1}"
SUPERLINK_PORT="${SUPERLINK_PORT:-9093}"
SUPERLINK_ADDRESS="${SUPERLINK_ADDRESS:-127.0.0.1:$SUPERLINK_PORT}"
SUPERNODE_PORT0="${SUPERNODE_PORT0:-9200}"
CONNECTION="${CONNECTION:-lanhar}"
LOGS="$DEPLOY_DIR/logs"
PIDS="$DEPLOY_DIR/pids"
export FLWR_HOME="${FLWR_HOME:-$DEPLOY_DIR/flwr-home}"
export FLWR_DISABLE_UPDATE_CHECK=1 FLWR_TELEMETRY_ENABLED=0 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
mkdir -p "$LOGS" "$PIDS" "$FLWR_HOME"

# The SuperLink and each SuperNode start `flower-superexec` (and it `flwr-serverapp` /
# `flwr-clientapp`) from PATH: use the project's virtual environment when there is one.
if [ -z "${VIRTUAL_ENV:-}" ] && [ -x "$ROOT/.venv/bin/flower-superexec" ]; then
    export PATH="$ROOT/.venv/bin:$PATH"
fi

die() { echo "error: $*" >&2; exit 1; }

# use_connection: point the Flower CLI (flwr run / supernode register / list / ls / log / stop)
# at the SuperLink: connection $CONNECTION, the default, in $FLWR_HOME/config.toml. flwr >= 1.42
# reads connections only from there (a [tool.flwr.federations] table in pyproject.toml would be
# migrated into it, and commented out, by the first `flwr run`).
use_connection() {
    [ -f "$CERTS/ca.crt" ] || die "$CERTS/ca.crt is missing (scripts/deploy/certs.sh makes it)"
    cat >"$FLWR_HOME/config.toml" <<TOML
[superlink]
default = "$CONNECTION"

[superlink.$CONNECTION]
address = "$SUPERLINK_ADDRESS"
root-certificates = "$CERTS/ca.crt"
TOML
}

need() {
    for tool in "$@"; do
        command -v "$tool" >/dev/null || die "$tool is not on PATH (activate the venv: . .venv/bin/activate)"
    done
}

# start_bg NAME CMD...: run CMD in its own session (process group = its PID), log to
# $LOGS/NAME.log, PID to $PIDS/NAME.pid. stop.sh ends the group by that PID.
start_bg() {
    local name="$1"; shift
    if [ -f "$PIDS/$name.pid" ] && kill -0 "$(cat "$PIDS/$name.pid")" 2>/dev/null; then
        die "$name is already running (PID $(cat "$PIDS/$name.pid")); run scripts/deploy/stop.sh"
    fi
    setsid "$@" >"$LOGS/$name.log" 2>&1 </dev/null &
    echo $! >"$PIDS/$name.pid"
    echo "started $name (PID $!, log $LOGS/$name.log)"
}

# wait_for SECONDS DESCRIPTION CMD...: poll CMD once a second until it succeeds.
wait_for() {
    local limit="$1" what="$2"; shift 2
    local t=0
    until "$@" >/dev/null 2>&1; do
        t=$((t + 1))
        [ "$t" -le "$limit" ] || die "timed out after ${limit}s waiting for $what"
        sleep 1
    done
}

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# online_nodes: how many SuperNodes the SuperLink reports online.
online_nodes() {
    flwr supernode list "$CONNECTION" --format json 2>/dev/null | python -c '
import json, sys
print(sum(n.get("status") == "online" for n in json.load(sys.stdin).get("nodes", [])))'
}
