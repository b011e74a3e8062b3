#!/usr/bin/env bash
# Submit the app (this checkout, built into a FAB by `flwr run`) to the SuperLink, stream its
# logs until it ends, and exit 0 only if the run finished as completed. Arguments are Hydra
# overrides for the run (default: a quick smoke run); results land in run_dir (default
# $DEPLOY_DIR/run) on the SuperLink's machine. The streamed log is kept in $LOGS/run-*.log.
# Usage: run.sh [OVERRIDE ...]     e.g. run.sh preset=smoke rounds=2 phones_per_round=2
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
need flwr python
use_connection
overrides=("$@")
[ "${#overrides[@]}" -gt 0 ] || overrides=(preset=smoke rounds=2)
case " ${overrides[*]} " in *" run_dir="*) ;; *) overrides+=("run_dir=$DEPLOY_DIR/run") ;; esac
for o in "${overrides[@]}"; do
    case "$o" in *[\"\ ]*) die "override $o: no spaces or double quotes inside one override" ;; esac
    case "$o" in run_dir=*) run_dir="${o#run_dir=}" ;; esac
done
log="$LOGS/run-$(date +%Y%m%d-%H%M%S).log"
cd "$ROOT"
flwr run . "$CONNECTION" --stream --run-config "overrides=\"${overrides[*]}\"" 2>&1 | tee "$log"
run_id="$(sed -n 's/.*Successfully started run \([0-9][0-9]*\).*/\1/p' "$log" | head -n 1)"
[ -n "$run_id" ] || die "the run did not start (see $log)"
flwr list "$CONNECTION" --run-id "$run_id" --format json | python -c '
import json, sys
runs = json.load(sys.stdin).get("runs", [])
status = runs[0]["status"] if runs else "unknown"
print(f"run {sys.argv[1]}: {status}")
sys.exit(0 if status == "finished:completed" else 1)' "$run_id"
echo "results (on the SuperLink's machine): $run_dir"
