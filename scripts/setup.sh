#!/usr/bin/env bash
# Create or refresh the virtualenv in .venv from the hashed lock file requirements/dev.txt: the
# product with the extras the tests and the demo need, dev (test and lint tools) and sandbox (the
# HRM sandbox's SFTP server). Every package is checked against its hash (pip --require-hashes);
# then the project itself is installed, editable, with nothing more. Re-runs are quick: nothing
# is reinstalled unless the lock file or pyproject.toml changed. scripts/lock.sh regenerates the
# lock files after a pin changes in pyproject.toml.
set -euo pipefail
cd "$(dirname "$0")/.."
# python-magic decides attachment types with the system's libmagic.
if ! ldconfig -p 2>/dev/null | grep -q 'libmagic\.so\.1'; then
  echo "Installing Debian's libmagic1..."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libmagic1 >/dev/null
fi
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
if [ ! -x .venv/bin/python ]; then
  echo "Creating the virtualenv in .venv ($("$PYTHON" --version))..."
  "$PYTHON" -m venv .venv
fi
mkdir -p var
LOCK=${LOCK:-requirements/dev.txt}
stamp=.venv/.installed-$(cat pyproject.toml "$LOCK" | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ]; then
  # pip's build chatter goes to a log; it is shown only if the install fails.
  echo "Installing the packages locked in $LOCK into .venv (about 90 s the first time;"
  echo "progress in var/pip-install.log)..."
  started=$SECONDS
  if ! { .venv/bin/python -m pip install --progress-bar off --require-hashes --no-deps -r "$LOCK" &&
         .venv/bin/python -m pip install --progress-bar off --no-build-isolation --no-deps -e .
       } >var/pip-install.log 2>&1; then
    cat var/pip-install.log
    echo "Installing the packages failed (the log above is var/pip-install.log)."
    exit 1
  fi
  rm -f .venv/.installed-*
  touch "$stamp"
  echo "Packages installed in $((SECONDS - started)) s."
fi
