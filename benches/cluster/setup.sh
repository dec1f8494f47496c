#!/usr/bin/env bash
# Creates the venv with Dask's distributed scheduler (pinned) that runs restock's shards as
# cluster tasks. Idempotent; prints the venv path.
set -euo pipefail
VENV=${RESTOCK_CLUSTER_VENV:-$HOME/.cache/restock-cluster-venv}
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c "import distributed" 2>/dev/null; then
  "$VENV/bin/pip" install --quiet -r "$(dirname "$0")/requirements.txt"
fi
echo "$VENV"
