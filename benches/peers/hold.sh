#!/usr/bin/env bash
# Runs a command with a running peer benchmark paused, so that a build, a test run or a
# timing of restock neither inflates statsforecast's clock nor is slowed by it.
#
#   bash benches/peers/hold.sh cargo build --release
#
# Every process whose command line names statsforecast_bench.py (the script and the worker
# processes it forks) gets SIGSTOP, then SIGCONT when the command ends, however it ends.
# The pause is appended as "<start> <end>" (Unix seconds) to the pause log, which
# statsforecast_bench.py subtracts from its statsforecast wall time.
set -uo pipefail
log=${RESTOCK_PEER_PAUSES:-$HOME/.cache/restock-m5/peer-full/pauses.log}
mkdir -p "$(dirname "$log")"
mapfile -t pids < <(pgrep -f statsforecast_bench.py)
start=$(date +%s.%N)
if [ ${#pids[@]} -gt 0 ]; then
  kill -STOP "${pids[@]}" 2>/dev/null
fi
resume() {
  if [ ${#pids[@]} -gt 0 ]; then
    kill -CONT "${pids[@]}" 2>/dev/null
    echo "$start $(date +%s.%N)" >> "$log"
  fi
}
trap resume EXIT
"$@"
