#!/usr/bin/env bash
# Set up and run the whole product with demo data: the web server, a Celery worker and beat, and
# the local HRM sandbox (an SFTP server in HRM's place and a stand-in EMR that files the reports).
#
# Everything it writes goes to DEMO_DIR (default var/): the SQLite database, the emails, the logs
# and the sandbox. Its broker is a Redis of its own on a Unix socket, stopped with the demo, so it
# never meets another program's tasks; set CELERY_BROKER_URL to use another one. Links in emails
# and logs point at PORT (default 8000), or at SITE_URL when it is set.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/services.sh
DEMO_DIR=$(realpath -m "${DEMO_DIR:-var}")
mkdir -p "$DEMO_DIR"
export DJANGO_SETTINGS_MODULE=config.settings.demo
export PORT=${PORT:-8000}
export SITE_URL=${SITE_URL:-http://127.0.0.1:${PORT}}
export DATABASE_URL=${DATABASE_URL:-sqlite:///$DEMO_DIR/demo.sqlite3}
export EMAIL_URL=${EMAIL_URL:-filemail://$DEMO_DIR/mail}
export HRM_SANDBOX_DIR=${HRM_SANDBOX_DIR:-$DEMO_DIR/hrm-sandbox}
export PRIVATE_MEDIA_ROOT=${PRIVATE_MEDIA_ROOT:-$DEMO_DIR/private}
export STATIC_ROOT=${STATIC_ROOT:-$DEMO_DIR/static}
# DEBUG stays off unless asked for: a stranger's 404 is the product's page, not Django's list of
# every URL; WhiteNoise serves the static files either way.
export DEBUG=${DEBUG:-false}
SANDBOX_ENV=$HRM_SANDBOX_DIR/env
shown() { realpath -m --relative-base="$PWD" "$1"; }

pids=()
redis_pid=
redis_dir=
cleanup() {
  trap - EXIT INT TERM
  kill "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
  # The broker last, so nothing is left talking to it.
  if [ -n "$redis_pid" ]; then
    kill "$redis_pid" 2>/dev/null || true
    wait "$redis_pid" 2>/dev/null || true
  fi
  if [ -n "$redis_dir" ]; then rm -rf "$redis_dir"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ -z "${CELERY_BROKER_URL:-}" ]; then
  command -v redis-server >/dev/null || {
    echo "The demo starts a Redis of its own: install redis-server, or set CELERY_BROKER_URL."
    exit 1
  }
  # A Unix socket only its owner may open, in a short path (a socket's path is limited to ~100
  # bytes, DEMO_DIR may be deeper).
  redis_dir=$(mktemp -d "${TMPDIR:-/tmp}/ereferral-demo-redis.XXXXXX")
  redis-server --port 0 --unixsocket "$redis_dir/redis.sock" --unixsocketperm 700 \
    --save "" --appendonly no --dir "$redis_dir" --logfile "$DEMO_DIR/redis.log" &
  redis_pid=$!
  for _ in $(seq 100); do
    redis-cli -s "$redis_dir/redis.sock" ping 2>/dev/null | grep -q PONG && break
    sleep 0.1
  done
  redis-cli -s "$redis_dir/redis.sock" ping 2>/dev/null | grep -q PONG ||
    { cat "$DEMO_DIR/redis.log" || true; echo "The demo's Redis did not start."; exit 1; }
  export CELERY_BROKER_URL="redis+socket://$redis_dir/redis.sock"
fi

.venv/bin/python manage.py migrate --noinput -v0
.venv/bin/python manage.py collectstatic --noinput -v0

# The sandbox refuses Dr. Haddad (D13579) as a recipient "not registered with HRM", so the demo
# also shows a failed delivery (the red "!"), its details and the re-send button.
rm -f "$SANDBOX_ENV"
.venv/bin/python manage.py hrm_sandbox --refuse-deliver-to D13579 >"$DEMO_DIR/hrm-sandbox.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -f "$SANDBOX_ENV" ] && break; sleep 0.2; done
[ -f "$SANDBOX_ENV" ] || { cat "$DEMO_DIR/hrm-sandbox.log"; echo "The HRM sandbox did not start."; exit 1; }
set -a; . "$SANDBOX_ENV"; set +a

.venv/bin/python manage.py seed_demo
.venv/bin/celery -A config worker -Q hrm,celery --concurrency=2 --loglevel=INFO \
  >"$DEMO_DIR/worker.log" 2>&1 &
pids+=($!)
.venv/bin/celery -A config beat --loglevel=INFO --schedule "$DEMO_DIR/celerybeat-schedule" \
  >"$DEMO_DIR/beat.log" 2>&1 &
pids+=($!)
if [ "$EMAIL_URL" = "filemail://$DEMO_DIR/mail" ]; then
  mail="emails: $(shown "$DEMO_DIR/mail")/"
else
  mail="emails: as EMAIL_URL says"
fi
echo
echo "eReferral demo: ${SITE_URL}/  (Django admin: ${SITE_URL}/admin/)"
echo "HRM sandbox EMR inbox: ${SITE_URL}/sandbox/emr/"
logs=$(shown "$DEMO_DIR")
echo "Logs: $logs/worker.log, $logs/beat.log, $logs/hrm-sandbox.log; ${mail}"
broker=$CELERY_BROKER_URL
if [ -n "$redis_pid" ]; then broker="$broker (the demo's own Redis, stopped with it)"; fi
echo "Broker: $broker"
echo "Press Ctrl+C to stop."
.venv/bin/python manage.py runserver "127.0.0.1:${PORT}" --noreload &
pids+=($!)
wait "${pids[-1]}"
