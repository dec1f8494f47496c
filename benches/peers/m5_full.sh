#!/usr/bin/env bash
# restock vs statsforecast on the full M5-shaped panel (30,490 series), in 20 slices.
#
# statsforecast needs about 25 min per 1,525-series slice on 2 cores (≈ 8 h in all), so the
# run is resumable: each finished slice leaves <dir>/slice-K-of-20/series.parquet and is
# skipped next time. restock runs once on the whole panel (its pooled model sees every series)
# and is scored per slice with the same code. Pool what is done with
#   python benches/peers/statsforecast_bench.py --restock BIN --out DIR --aggregate
#
#   bash benches/peers/setup.sh
#   bash benches/peers/m5_full.sh target/release/restock [dir]   # default ~/.cache/restock-m5/peer-full
set -euo pipefail
bin=$(realpath "$1")
dir=${2:-$HOME/.cache/restock-m5/peer-full}
here=$(cd "$(dirname "$0")" && pwd)
n=20
mkdir -p "$dir"
# shellcheck disable=SC1091
source "${RESTOCK_PEERS_VENV:-$HOME/.cache/restock-peers-venv}/bin/activate"
[ -f "$dir/m5-30490.parquet" ] || python "$here/m5_panel.py" --series 30490 --out "$dir/m5-30490.parquet"
for k in $(seq 0 $((n - 1))); do
  if [ -f "$dir/slice-$k-of-$n/series.parquet" ]; then
    continue
  fi
  echo "$(date -u +%FT%TZ) slice $k of $n" >&2
  python "$here/statsforecast_bench.py" --restock "$bin" --panel "$dir/m5-30490.parquet" \
    --origins 1 --out "$dir" --slice "$k/$n" > "$dir/slice-$k-of-$n.log" 2>&1
done
python "$here/statsforecast_bench.py" --restock "$bin" --out "$dir" --aggregate
