#!/usr/bin/env bash
# Stop everything started by superlink.sh / supernode.sh, by the PIDs in $PIDS: each process
# group and every descendant (the SuperLink's flower-superexec runs in a session of its own).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

descendants() {  # PIDs below $1, recursively
    local child
    for child in $(ps -o pid= --ppid "$1" 2>/dev/null); do
        echo "$child"
        descendants "$child"
    done
}

shopt -s nullglob
targets=()
for pidfile in "$PIDS"/*.pid; do
    pid="$(cat "$pidfile")"
    if kill -0 "$pid" 2>/dev/null; then
        targets+=("$pid" $(descendants "$pid"))
        kill -TERM -- "-$pid" 2>/dev/null || true
        echo "stopping $(basename "$pidfile" .pid) (PID $pid)"
    fi
    rm -f "$pidfile"
done
[ "${#targets[@]}" -gt 0 ] || { echo "nothing running"; exit 0; }
kill -TERM "${targets[@]}" 2>/dev/null || true
for _ in $(seq 1 20); do
    alive=()
    for pid in "${targets[@]}"; do kill -0 "$pid" 2>/dev/null && alive+=("$pid"); done
    [ "${#alive[@]}" -eq 0 ] && { echo "all stopped"; exit 0; }
    sleep 0.5
done
echo "killing ${alive[*]}"
kill -KILL "${alive[@]}" 2>/dev/null || true
