"""`python manage.py worker_check`, as a worker host's process supervisor runs it."""

import os
import subprocess
import sys

import pytest
from django.db import connection

from ..processes import REPO

pytestmark = [pytest.mark.django_db, pytest.mark.processes]


def worker_check(broker_url: str, database_url: str = "") -> subprocess.CompletedProcess:
    name = connection.settings_dict["NAME"]
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "TEST_DATABASE_URL": database_url or f"postgres://postgres@127.0.0.1:5432/{name}",
        "TEST_CELERY_BROKER_URL": broker_url,
    }
    return subprocess.run(
        [sys.executable, "manage.py", "worker_check"],
        cwd=REPO, env=environment, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_worker_check_exits_0_with_the_broker_up_and_1_with_it_down(broker):
    up = worker_check(broker.url)
    assert up.returncode == 0, up.stdout + up.stderr
    assert up.stdout.splitlines() == ["worker check ok: database, broker"]
    broker.stop()
    down = worker_check(broker.url)
    assert down.returncode == 1
    [line] = down.stdout.splitlines()
    assert line.startswith("worker check failing: broker failing: ")


def test_worker_check_exits_1_when_the_database_is_unreachable(broker):
    result = worker_check(broker.url, database_url="postgres://postgres@127.0.0.1:1/none")
    assert result.returncode == 1
    [line] = result.stdout.splitlines()
    assert line.startswith("worker check failing: database failing: OperationalError: ")
