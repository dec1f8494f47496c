#!/usr/bin/env bash
# Creates the venv with moto's S3-compatible server (pinned, from PyPI) for the object-storage
# round-trip test. Idempotent; prints the venv path.
set -euo pipefail
VENV=${RESTOCK_S3_VENV:-$HOME/.cache/restock-s3-venv}
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c "import moto.server, boto3" 2>/dev/null; then
  "$VENV/bin/pip" install --quiet -r "$(dirname "$0")/requirements.txt"
fi
echo "$VENV"
