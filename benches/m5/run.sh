#!/usr/bin/env bash
# M5-size nightly run from order lines: generates the M5-shaped shop at 1/4, 1/2 and full size
# (benches/m5/m5_orders.py, cached under $M5_DIR), runs the whole `restock run` on each under
# /usr/bin/time -v and prints wall, CPU, peak RSS and the manifest's stage times.
#   bash benches/m5/run.sh            # all three sizes
#   SIZES="30490" bash benches/m5/run.sh
# Needs the peers venv (bash benches/peers/setup.sh) for numpy/pyarrow.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/restock-target}"
cargo build --release --locked --quiet
BIN="$CARGO_TARGET_DIR/release/restock"
PY="${RESTOCK_PEERS_VENV:-$HOME/.cache/restock-peers-venv}/bin/python"
M5_DIR="${M5_DIR:-$HOME/.cache/restock-m5}"
SIZES="${SIZES:-7622 15245 30490}"
export RESTOCK_LOG=warn
for n in $SIZES; do
  d="$M5_DIR/m5-$n"
  if [ ! -f "$d/pipeline.toml" ]; then
    "$PY" benches/m5/m5_orders.py --series "$n" --out "$d"
  fi
  rm -rf "$d/runs"
  /usr/bin/time -v "$BIN" run --pipeline "$d/pipeline.toml" >/dev/null 2>"$d/time.txt" || {
    cat "$d/time.txt"; exit 1; }
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/{print $2}' "$d/time.txt")
  user=$(awk -F': ' '/User time/{print $2}' "$d/time.txt")
  sys=$(awk -F': ' '/System time/{print $2}' "$d/time.txt")
  rss=$(awk -F': ' '/Maximum resident/{printf "%.2f", $2/1048576}' "$d/time.txt")
  lines=$("$PY" -c "import pyarrow.parquet as pq; print(pq.ParquetFile('$d/orders.parquet').metadata.num_rows)")
  stages=$("$PY" -c "
import json; m = json.load(open('$d/runs/latest/manifest.json'))
print(' '.join(f\"{s['stage']}={s['wall_seconds']:.1f}s\" for s in m['stages']))")
  echo "series=$n order_lines=$lines wall=$wall user_s=$user sys_s=$sys peak_rss_gib=$rss | $stages"
done
