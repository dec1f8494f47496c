#!/usr/bin/env bash
# Creates the Python venv with the pinned peers (statsforecast, stockpyl) used for goldens and
# side-by-side benchmarks. Idempotent. `cargo test` does not need it: goldens are committed.
set -euo pipefail
VENV=${RESTOCK_PEERS_VENV:-$HOME/.cache/restock-peers-venv}
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install --quiet -r "$(dirname "$0")/requirements.txt"
echo "$VENV"
