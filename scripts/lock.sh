#!/usr/bin/env bash
# Regenerate the hashed lock files in requirements/ from pyproject.toml, with uv (pinned in the dev
# extra). Run after changing a pin in pyproject.toml, then commit requirements/ with it:
#   product.txt  the product alone (the Dockerfile installs it)
#   dev.txt      the product, the dev and sandbox extras and the build backend (scripts/setup.sh,
#                so the tests, CI and the demo)
#   bench.txt    dev.txt and the bench extra (bench/import_receivers.py)
# dev.txt is resolved first; the others are held to its versions, so one package has one version
# in every file.
set -euo pipefail
cd "$(dirname "$0")/.."
UV=${UV:-.venv/bin/uv}
[ -x "$UV" ] || { echo "No $UV: run scripts/setup.sh first (uv comes with the dev extra)."; exit 1; }
compile() {
  local output=$1
  shift
  "$UV" pip compile --quiet --generate-hashes --python-version 3.11 \
    --python-platform x86_64-manylinux_2_28 --custom-compile-command "bash scripts/lock.sh" \
    --output-file "$output" "$@"
}
compile requirements/dev.txt pyproject.toml requirements/build.in --extra dev --extra sandbox
compile requirements/product.txt pyproject.toml --constraint requirements/dev.txt
compile requirements/bench.txt pyproject.toml requirements/build.in --extra dev --extra sandbox \
  --extra bench --constraint requirements/dev.txt
echo "Locked: requirements/product.txt, requirements/dev.txt, requirements/bench.txt"
