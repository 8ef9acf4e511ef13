#!/usr/bin/env bash
# Set up everything the tests need, then run every check and every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/services.sh
if [ ! -x /usr/bin/chromium ]; then
  echo "Installing Debian's chromium for the browser tests..."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
export DJANGO_SETTINGS_MODULE=config.settings.test
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/hadolint deploy/Dockerfile
.venv/bin/python manage.py check --fail-level WARNING
.venv/bin/python manage.py makemigrations --check --dry-run
# The production profile as production runs it: the two database roles (scripts/db_roles.sh),
# migrate as the owner, then every check, the database's included, as the runtime role.
bash scripts/db_roles.sh ereferral_ci ereferral_ci_owner ereferral_ci_app >/dev/null
DJANGO_SETTINGS_MODULE=config.settings.production SECRET_KEY="$(head -c 48 /dev/urandom | base64)" \
  ALLOWED_HOSTS=ereferral.example HRM_AES_KEY="$(openssl rand -hex 16)" \
  DATABASE_URL=postgres://ereferral_ci_app@127.0.0.1:5432/ereferral_ci \
  DATABASE_OWNER_URL=postgres://ereferral_ci_owner@127.0.0.1:5432/ereferral_ci \
  bash -c '.venv/bin/python manage.py migrate -v 0 &&
    .venv/bin/python manage.py check --deploy --database default --fail-level WARNING'
exec .venv/bin/pytest "$@"
