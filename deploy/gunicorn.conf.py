"""gunicorn's settings for the web process: `gunicorn -c deploy/gunicorn.conf.py`, from the
repository's root (systemd's WorkingDirectory, the image's WORKDIR). Behind the reverse proxy in
deploy/nginx/, which alone takes connections from outside: gunicorn listens on loopback (or, in
compose, on the private network), and the client's address is read from X-Forwarded-For by
security.client_address with TRUSTED_PROXY_COUNT=1, on connections from TRUSTED_PROXIES only,
not by gunicorn."""

import multiprocessing
import os

wsgi_app = "config.wsgi:application"
bind = [os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")]
# Requests spend their time in PostgreSQL and on uploads, not the CPU: gunicorn's usual
# 2 x cores + 1 processes, a thread each (sessions and CSRF stay simple).
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
worker_class = "sync"
# An attachment upload (10 MB) on a slow link still fits; the proxy buffers the body before it
# reaches gunicorn, so a slow client never holds a process.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
# A deployment's SIGTERM lets requests under way finish.
graceful_timeout = 30
keepalive = 5
# Recycles processes now and then, spread out so they never all restart at once.
max_requests = 1000
max_requests_jitter = 100
# gunicorn's own heartbeat files in memory, not on a disk that may stall (the image's /tmp is
# not tmpfs).
SHARED_MEMORY = "/dev/shm"  # noqa: S108 (gunicorn's documented choice, tmpfs)
worker_tmp_dir = SHARED_MEMORY if os.path.isdir(SHARED_MEMORY) else None
# The proxy keeps the access log, with the request id it sends as X-Request-ID; the product's
# own log lines carry that id too. GUNICORN_ACCESS_LOG=- adds gunicorn's to stdout.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms request_id=%({x-request-id}i)s'
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# Only the proxy on this host may say the request came over HTTPS (wsgi.url_scheme); Django
# reads X-Forwarded-Proto itself (SECURE_PROXY_SSL_HEADER).
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
proc_name = "ereferral-web"
# gunicorn's control socket would sit in the user's home, one path for every gunicorn that user
# runs (and the units make the home read-only); reloads go through SIGHUP (systemctl reload).
control_socket_disable = True
