#!/usr/bin/env bash
# Creates (once) a Python venv and installs pinned requirements unless a module import
# already works; prints the venv path. Shared by the test script's Python helpers.
#   bash scripts/pyvenv.sh VENV REQUIREMENTS IMPORT_CHECK
set -euo pipefail
VENV=$1 REQS=$2 CHECK=$3
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c "import $CHECK" 2>/dev/null; then
  "$VENV/bin/pip" install --quiet -r "$REQS"
fi
echo "$VENV"
