#!/usr/bin/env bash
# Creates the venv with Dask's distributed scheduler (pinned) that runs restock's shards as
# cluster tasks. Idempotent; prints the venv path.
set -euo pipefail
here="$(dirname "$0")"
exec bash "$here/../../scripts/pyvenv.sh" "${RESTOCK_CLUSTER_VENV:-$HOME/.cache/restock-cluster-venv}" \
  "$here/requirements.txt" distributed
