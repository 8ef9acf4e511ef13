"""The health check a process supervisor runs for one of the product's processes (systemd's
units and timer, compose's healthcheck): ``python deploy/healthcheck.py KIND [--wait SECONDS]``.

- ``web``: GET /health/live on gunicorn's address (GUNICORN_BIND), as the proxy sends it: Host
  from SITE_URL and X-Forwarded-Proto https (so the production profile answers rather than
  redirecting to HTTPS). Healthy on 200.
- ``worker-hrm``, ``worker-default``, ``beat``: ``manage.py worker_check`` (the broker and the
  database answer). Healthy on exit 0.

With ``--wait`` it retries for that many seconds (a process just started), else it checks once.
Exit 0 healthy, 1 not, with one line saying what failed. Standard library only: the web check
must stay cheap when run every minute."""

import argparse
import http.client
import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
KINDS = ("web", "worker-hrm", "worker-default", "beat")


def web_check() -> str | None:
    bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
    host, _, port = bind.rpartition(":")
    host = host.strip("[]")
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 (a wildcard bind is reached on loopback)
        host = "127.0.0.1"
    site = urlsplit(os.environ.get("SITE_URL", f"https://{host}"))
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        connection.request(
            "GET",
            "/health/live",
            headers={"Host": site.netloc, "X-Forwarded-Proto": "https"},
        )
        status = connection.getresponse().status
    except OSError as error:
        return f"web: no answer on {bind}: {error}"
    finally:
        connection.close()
    return None if status == 200 else f"web: /health/live answered {status}"


def worker_check() -> str | None:
    result = subprocess.run(
        [sys.executable, "manage.py", "worker_check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if result.returncode == 0:
        return None
    said = (result.stdout + result.stderr).strip().splitlines()
    return "worker_check failed" + (f": {said[-1]}" if said else "")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=KINDS)
    parser.add_argument("--wait", type=float, default=0, help="retry for this many seconds")
    arguments = parser.parse_args(argv)
    check = web_check if arguments.kind == "web" else worker_check
    deadline = time.monotonic() + arguments.wait
    while (problem := check()) and time.monotonic() < deadline:
        time.sleep(1)
    if problem:
        print(f"{arguments.kind}: unhealthy: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
