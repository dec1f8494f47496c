#!/usr/bin/env bash
# restock vs statsforecast on the full M5-shaped panel (30,490 series), in 20 slices.
#
# statsforecast needs about 25 min per 1,525-series slice on 2 cores (≈ 8 h in all), so the
# run is resumable: each finished slice leaves <dir>/slice-K-of-20/series.parquet and is
# skipped next time. Finished slices are also copied into the repository
# (benches/results/peer-m5-full/slice-K-of-20/: statsforecast's per-series scores, which do
# not depend on restock's build, restock's scores and the slice summary), and a slice found
# there is restored instead of rerun, so the run resumes on a fresh machine too. restock runs
# once on the whole panel (its pooled model sees every series) and is scored per slice with
# the same code. Pool what is done with
#   python benches/peers/statsforecast_bench.py --restock BIN --out DIR --aggregate
# Pause the run while building or timing anything else: bash benches/peers/hold.sh CMD...
#
#   bash benches/peers/setup.sh
#   bash benches/peers/m5_full.sh target/release/restock [dir]   # default ~/.cache/restock-m5/peer-full
set -euo pipefail
bin=$(realpath "$1")
dir=${2:-$HOME/.cache/restock-m5/peer-full}
here=$(cd "$(dirname "$0")" && pwd)
n=20
repo=$(cd "$here/../results" && pwd)/peer-m5-full
mkdir -p "$dir" "$repo"
# shellcheck disable=SC1091
source "${RESTOCK_PEERS_VENV:-$HOME/.cache/restock-peers-venv}/bin/activate"
[ -f "$dir/m5-30490.parquet" ] || python "$here/m5_panel.py" --series 30490 --out "$dir/m5-30490.parquet"
# RESTOCK_PEER_SLICES="8 9 10" runs those slices first (default: all in order).
for k in ${RESTOCK_PEER_SLICES:-} $(seq 0 $((n - 1))); do
  s="slice-$k-of-$n"
  # A summary counts only with statsforecast's figures in it (slice 0's were overwritten by
  # a restock-only rescoring in an earlier session: that slice reruns).
  if [ ! -f "$dir/$s/peer_summary.json" ] && grep -q '"statsforecast_selected"' "$repo/$s.json" 2>/dev/null; then
    mkdir -p "$dir/$s"
    cp "$repo/$s.json" "$dir/$s/peer_summary.json"
    if [ -f "$repo/$s/series.parquet" ]; then cp "$repo/$s/series.parquet" "$dir/$s/"; fi
    # restock's scores are the committed build's; rescore with --restock-only after a change.
    if [ -f "$repo/$s/restock.parquet" ]; then cp "$repo/$s/restock.parquet" "$dir/$s/"; fi
  fi
  if grep -q '"statsforecast_selected"' "$dir/$s/peer_summary.json" 2>/dev/null; then
    # Done. A slice kept only as a summary (slices 0-7: their per-series tables were lost
    # with an earlier machine) pools from it; restock's side is rescored here if missing.
    if [ ! -f "$dir/$s/restock.parquet" ]; then
      python "$here/statsforecast_bench.py" --restock "$bin" --panel "$dir/m5-30490.parquet" \
        --origins 1 --out "$dir" --slice "$k/$n" --restock-only > "$dir/$s-rescore.log" 2>&1
      cp "$dir/$s/restock.parquet" "$repo/$s/" 2>/dev/null || { mkdir -p "$repo/$s"; cp "$dir/$s/restock.parquet" "$repo/$s/"; }
    fi
    continue
  fi
  echo "$(date -u +%FT%TZ) slice $k of $n" >&2
  python "$here/statsforecast_bench.py" --restock "$bin" --panel "$dir/m5-30490.parquet" \
    --origins 1 --out "$dir" --slice "$k/$n" > "$dir/$s.log" 2>&1
  mkdir -p "$repo/$s"
  cp "$dir/$s/series.parquet" "$dir/$s/restock.parquet" "$repo/$s/"
  cp "$dir/$s/peer_summary.json" "$repo/$s.json"
done
python "$here/statsforecast_bench.py" --restock "$bin" --out "$dir" --aggregate
