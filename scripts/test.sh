#!/usr/bin/env bash
# The README's test command. Installs what the tests need (LibreOffice Calc, unzip and
# Chromium from Debian, for the CSV/XLSX import and HTML report tests; a Python venv with
# Dask for the cluster test, one with moto's S3 server for the object-storage test), then
# runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/restock-target}"
SUDO=""
if [ "$(id -u)" != "0" ] && command -v sudo >/dev/null; then SUDO="sudo"; fi
if ! command -v soffice >/dev/null 2>&1 || ! command -v unzip >/dev/null 2>&1 || ! command -v chromium >/dev/null 2>&1; then
  echo "scripts/test.sh: installing LibreOffice Calc, unzip and Chromium (Debian packages) for the CSV/XLSX import and HTML report tests" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends libreoffice-calc unzip chromium >/dev/null
fi
cargo build --locked
# SIGKILL the nightly run 50 times at random moments (issue "Safe to run every night").
bash scripts/crash-test.sh "$CARGO_TARGET_DIR/debug/restock" 50
# Sharded run on a real cluster engine: a Dask scheduler and workers on 127.0.0.1 (venv with
# pinned dask/distributed from PyPI) run 2 shards and the merge; it fails unless the merged
# run equals the single run byte for byte. Then the deploy manifests' consistency check.
CLUSTER_VENV=$(bash benches/cluster/setup.sh)
CLUSTER_OUT=$(mktemp -d)
"$CLUSTER_VENV/bin/python" benches/cluster/dask_shards.py --restock "$CARGO_TARGET_DIR/debug/restock" \
  --pipeline pipelines/sample.toml --shards 2 --out "$CLUSTER_OUT/cluster"
rm -rf "$CLUSTER_OUT"
"$CLUSTER_VENV/bin/python" benches/cluster/check_manifests.py
# Object storage: a moto S3 server on 127.0.0.1 (venv with pinned moto from PyPI); restock
# reads every input and writes the run, a failed run and two shards + merge via s3:// URLs.
S3_VENV=$(bash scripts/s3/setup.sh)
"$S3_VENV/bin/python" scripts/s3/s3_roundtrip.py --restock "$CARGO_TARGET_DIR/debug/restock" \
  --pipeline pipelines/sample.toml
cargo test --locked
