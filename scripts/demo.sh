#!/usr/bin/env bash
# Set up and run the whole product with demo data: web server, Celery worker and beat.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/services.sh
export DJANGO_SETTINGS_MODULE=config.settings.base
export DEBUG=${DEBUG:-true}
export EMAIL_URL=${EMAIL_URL:-filemail://$PWD/var/mail}
PORT=${PORT:-8000}
.venv/bin/python manage.py migrate --noinput -v0
.venv/bin/python manage.py seed_demo

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM
.venv/bin/celery -A config worker --loglevel=INFO --concurrency=2 >var/worker.log 2>&1 &
pids+=($!)
.venv/bin/celery -A config beat --loglevel=INFO >var/beat.log 2>&1 &
pids+=($!)
echo
echo "eReferral demo: http://127.0.0.1:${PORT}/  (admin: http://127.0.0.1:${PORT}/admin/)"
echo "Worker and beat logs: var/worker.log, var/beat.log; emails: var/mail/"
echo "Press Ctrl+C to stop."
.venv/bin/python manage.py runserver "127.0.0.1:${PORT}" --noreload &
pids+=($!)
wait "${pids[-1]}"
