#!/usr/bin/env bash
# Creates the venv with moto's S3-compatible server (pinned, from PyPI) for the object-storage
# round-trip test. Idempotent; prints the venv path.
set -euo pipefail
here="$(dirname "$0")"
exec bash "$here/../pyvenv.sh" "${RESTOCK_S3_VENV:-$HOME/.cache/restock-s3-venv}" \
  "$here/requirements.txt" "moto.server, boto3"
