#!/usr/bin/env bash
# Crash safety: SIGKILL `restock run` at random moments, 50 times by default. After every
# kill, `latest` must still point at a complete, readable earlier run, every visible folder
# must be a complete run (temporary folders are hidden `.tmp-*`), and the next run must succeed.
# Usage: bash scripts/crash-test.sh [path/to/restock] [kills]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${1:-${CARGO_TARGET_DIR:-$HOME/.cache/restock-target}/debug/restock}"
KILLS="${2:-50}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
export RESTOCK_LOG=error
"$BIN" sample --out "$WORK/data" --skus 60 >/dev/null
cat > "$WORK/p.toml" <<TOML
name = "crash"
out = "$WORK/runs"
[inputs.orders]
path = "$WORK/data/orders.parquet"
[inputs.returns]
path = "$WORK/data/returns.parquet"
[inputs.stock]
path = "$WORK/data/stock.parquet"
[inputs.products]
path = "$WORK/data/products.parquet"
[inputs.suppliers]
path = "$WORK/data/suppliers.parquet"
[inputs.open_pos]
path = "$WORK/data/open_pos.parquet"
TOML

complete_run() { # a run folder is complete when its manifest parses and lists files that all exist
  python3 - "$1" <<'PY'
import json, os, sys
d = sys.argv[1]
m = json.load(open(os.path.join(d, "manifest.json")))
missing = [f for f in m["outputs"] if not os.path.isfile(os.path.join(d, f))]
sys.exit(1 if missing else 0)
PY
}

start=$(date +%s%N)
"$BIN" run --pipeline "$WORK/p.toml" >/dev/null
dur_ms=$(( ($(date +%s%N) - start) / 1000000 ))
echo "crash-test: one run takes ${dur_ms} ms; killing $KILLS runs at random moments within it"
for i in $(seq 1 "$KILLS"); do
  before=$(readlink "$WORK/runs/latest")
  "$BIN" run --pipeline "$WORK/p.toml" >/dev/null 2>&1 &
  pid=$!
  sleep "$(python3 -c "import random; print(random.uniform(0, $dur_ms * 1.1 / 1000))")"
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  target=$(readlink "$WORK/runs/latest")
  if ! complete_run "$WORK/runs/latest"; then
    echo "crash-test: FAILED after kill $i: latest -> $target is not a complete run"; exit 1
  fi
  for d in "$WORK"/runs/*/; do
    name=$(basename "$d")
    [ "$name" = "latest" ] && continue
    if ! complete_run "$d"; then echo "crash-test: FAILED after kill $i: visible folder $name is incomplete"; exit 1; fi
  done
  if [ "$target" != "$before" ] && [ "$target" = "" ]; then echo "crash-test: FAILED: latest vanished"; exit 1; fi
done
"$BIN" run --pipeline "$WORK/p.toml" >/dev/null
complete_run "$WORK/runs/latest"
leftover=$(find "$WORK/runs" -maxdepth 1 -name '.tmp-*' | wc -l)
runs=$(find "$WORK/runs" -mindepth 1 -maxdepth 1 -type d ! -name '.*' | wc -l)
echo "crash-test: $KILLS kills survived; $runs complete runs; $leftover temp folders left after the final run; final run ok"
[ "$leftover" -eq 0 ]
