#!/usr/bin/env bash
# Set up and run the whole product with demo data: the web server, a Celery worker and beat, and
# the local HRM sandbox (an SFTP server in HRM's place and a stand-in EMR that files the reports).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/services.sh
export DJANGO_SETTINGS_MODULE=config.settings.base
export DEBUG=${DEBUG:-true}
export EMAIL_URL=${EMAIL_URL:-filemail://$PWD/var/mail}
PORT=${PORT:-8000}
SANDBOX_ENV=var/hrm-sandbox/env
.venv/bin/python manage.py migrate --noinput -v0

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

# The sandbox refuses Dr. Haddad (D13579) as a recipient "not registered with HRM", so the demo
# also shows a failed delivery (the red "!"), its details and the re-send button.
rm -f "$SANDBOX_ENV"
.venv/bin/python manage.py hrm_sandbox --refuse-deliver-to D13579 >var/hrm-sandbox.log 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -f "$SANDBOX_ENV" ] && break; sleep 0.2; done
[ -f "$SANDBOX_ENV" ] || { cat var/hrm-sandbox.log; echo "The HRM sandbox did not start."; exit 1; }
set -a; . "$SANDBOX_ENV"; set +a

.venv/bin/python manage.py seed_demo
.venv/bin/celery -A config worker -Q hrm,celery --concurrency=2 --loglevel=INFO >var/worker.log 2>&1 &
pids+=($!)
.venv/bin/celery -A config beat --loglevel=INFO >var/beat.log 2>&1 &
pids+=($!)
echo
echo "eReferral demo: http://127.0.0.1:${PORT}/  (Django admin: http://127.0.0.1:${PORT}/admin/)"
echo "HRM sandbox EMR inbox: http://127.0.0.1:${PORT}/sandbox/emr/"
echo "Logs: var/worker.log, var/beat.log, var/hrm-sandbox.log; emails: var/mail/"
echo "Press Ctrl+C to stop."
.venv/bin/python manage.py runserver "127.0.0.1:${PORT}" --noreload &
pids+=($!)
wait "${pids[-1]}"
