#!/usr/bin/env bash
# Runs a command with a running peer benchmark paused, so that a build, a test run or a
# timing of restock neither inflates statsforecast's clock nor is slowed by it.
#
#   bash benches/peers/hold.sh cargo build --release
#
# Every Python process running statsforecast_bench.py (the script and the worker processes
# it forks) gets SIGSTOP, then SIGCONT when the command ends, however it ends. Only command
# lines that start with the interpreter count: this script's own command line may name the
# benchmark too (holding a restock-only rescoring), and must not stop itself.
# The pause is appended as "<start> <end>" (Unix seconds) to the pause log, which
# statsforecast_bench.py subtracts from its statsforecast wall time.
# RESTOCK_HOLD_LOG names that log; it is not RESTOCK_PEER_PAUSES (where a benchmark reads
# its pauses), so that a peer run on other data, held with RESTOCK_PEER_PAUSES pointing
# elsewhere to keep the long run's pauses out of its own time, still logs the long run's
# pause where the long run reads it (session 11 lost 1,343 s of slice 14's pauses that way).
set -uo pipefail
log=${RESTOCK_HOLD_LOG:-$HOME/.cache/restock-m5/peer-full/pauses.log}
mkdir -p "$(dirname "$log")"
mapfile -t pids < <(pgrep -f '^[^ ]*python[0-9.]* [^ ]*statsforecast_bench\.py' | grep -vx "$$")
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
