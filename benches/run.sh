#!/usr/bin/env bash
# Whole-process timings and peak RSS of the nightly job and the returns backtest.
# Usage: bash benches/run.sh   (builds release first; needs /usr/bin/time, optional hyperfine)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/restock-target}"
cargo build --release --locked
BIN="$CARGO_TARGET_DIR/release/restock"
OUT="$(mktemp -d)"
export RESTOCK_LOG=warn
measure() {
  local name="$1"; shift
  for i in 1 2 3 4 5; do
    /usr/bin/time -f "$name wall_s=%e user_s=%U sys_s=%S peak_kib=%M" "$@" >/dev/null 2>>"$OUT/time.log" || true
  done
  grep "^$name " "$OUT/time.log" | sort -t= -k2 -n | sed -n 3p   # median of 5 by wall time
}
measure run-sample      "$BIN" run --pipeline pipelines/sample.toml --out "$OUT/s"
measure run-online      "$BIN" run --pipeline pipelines/online-retail.toml --out "$OUT/o"
measure check-online    "$BIN" check --pipeline pipelines/online-retail.toml
measure backtest-returns-online "$BIN" backtest returns --pipeline pipelines/online-retail.toml --weeks 20 --out "$OUT/bt"
"$BIN" backtest returns --pipeline pipelines/online-retail.toml --weeks 20 --out "$OUT/bt"
"$BIN" backtest returns --pipeline pipelines/sample.toml --weeks 20 --out "$OUT/bts"
