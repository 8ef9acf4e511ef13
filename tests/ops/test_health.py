"""/health/live and /health/ready as a process supervisor and an outsider call them."""

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder
from django.test import Client
from django.utils import timezone

from ops.models import Heartbeat
from ops.services import heartbeat_record
from ops.tasks import beat_heartbeat

from ..delivery_fixtures import wait_for

TOKEN = "health-token-for-tests-0123456789"
CHECKS = ["database", "broker", "storage", "beat", "migrations"]


@pytest.fixture
def health(settings, broker):
    """Readiness on the tests' private Redis, with a fresh heartbeat and a health token."""
    settings.HEALTH_TOKEN = TOKEN
    # Each anonymous call sees the checks' state now (the cache is tested on its own below).
    settings.OPS_READY_ANONYMOUS_CACHE_SECONDS = 0
    heartbeat_record()
    return broker


def ready(*, token: str | None = None):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    response = Client().get("/health/ready", **headers)
    return response.status_code, response.content.decode().splitlines()


def states(lines) -> dict[str, str]:
    """``{"database": "ok", "broker": "failing", ...}`` from the body's lines."""
    return {line.split()[0]: line.split()[1].rstrip(":") for line in lines}


def test_live_answers_without_sign_in_or_checks(db):
    response = Client().get("/health/live")
    assert response.status_code == 200
    assert response.content == b"live\n"
    assert "no-store" in response["Cache-Control"]


@pytest.mark.django_db
def test_ready_is_one_line_per_check_and_ok_when_everything_answers(health):
    status, lines = ready()
    assert status == 200
    assert lines == [f"{name} ok" for name in CHECKS]


@pytest.mark.django_db
@pytest.mark.processes
def test_ready_turns_503_when_redis_stops_and_200_when_it_is_back(health):
    health.stop()
    try:
        status, lines = ready()
        assert status == 503
        assert states(lines) == {**dict.fromkeys(CHECKS, "ok"), "broker": "failing"}
        # Without the token: which check, never why (no host, no port, no error text).
        assert "broker failing" in lines
        assert not any(str(health.port) in line or "127.0.0.1" in line for line in lines)
        status, lines = ready(token=TOKEN)
        broker_line = next(line for line in lines if line.startswith("broker"))
        assert broker_line.startswith("broker failing: ") and "Error" in broker_line
        # A wrong token is no token.
        assert "broker failing" in ready(token=TOKEN + "x")[1]
    finally:
        health.start()
    assert ready() == (200, [f"{name} ok" for name in CHECKS])


@pytest.mark.django_db
def test_ready_turns_503_when_beats_heartbeat_is_older_than_three_minutes(health):
    Heartbeat.objects.filter(name="beat").update(beat_at=timezone.now() - timedelta(seconds=170))
    assert ready()[0] == 200
    Heartbeat.objects.filter(name="beat").update(beat_at=timezone.now() - timedelta(seconds=185))
    status, lines = ready()
    assert status == 503 and "beat failing" in lines
    assert any(line.startswith("beat failing: last heartbeat 18") for line in ready(token=TOKEN)[1])
    # Beat's next heartbeat (the task it schedules every minute) makes it ready again.
    beat_heartbeat.apply()
    assert ready()[0] == 200


@pytest.mark.django_db
def test_ready_is_503_before_beats_first_heartbeat(health):
    Heartbeat.objects.all().delete()
    status, lines = ready(token=TOKEN)
    assert status == 503 and "beat failing: no heartbeat yet" in lines


def test_beat_schedules_the_heartbeat_every_minute(settings):
    schedule = settings.CELERY_BEAT_SCHEDULE.values()
    entries = [entry for entry in schedule if entry["task"] == beat_heartbeat.name]
    assert beat_heartbeat.name == "ops.tasks.beat_heartbeat"
    assert len(entries) == 1 and entries[0]["schedule"] == 60


@pytest.mark.django_db(transaction=True)
@pytest.mark.processes
def test_the_heartbeat_task_runs_on_a_default_queue_worker(health, worker):
    Heartbeat.objects.all().delete()
    beat_heartbeat.delay()
    wait_for(lambda: Heartbeat.objects.filter(name="beat").exists(), timeout=30)
    assert ready()[0] == 200


@pytest.mark.django_db
def test_ready_turns_503_while_a_migration_is_not_applied(health):
    recorder = MigrationRecorder(connection)
    recorder.record_unapplied("ops", "0001_initial")
    status, lines = ready()
    assert status == 503 and "migrations failing" in lines
    assert "migrations failing: 1 not applied: ops.0001_initial" in ready(token=TOKEN)[1]
    recorder.record_applied("ops", "0001_initial")
    assert ready()[0] == 200


@pytest.mark.django_db
def test_ready_turns_503_when_private_media_cannot_be_written(health, settings, tmp_path):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the media folder should be")
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": blocked / "private"},
        },
    }
    status, lines = ready()
    assert status == 503 and "storage failing" in lines
    assert str(blocked) not in "\n".join(lines)


@pytest.mark.django_db
def test_a_supervisor_on_loopback_gets_through_production_host_and_https_rules(health, settings):
    settings.ALLOWED_HOSTS = ["ereferral.example.org"]
    settings.SECURE_SSL_REDIRECT = True
    client = Client(HTTP_HOST="127.0.0.1:8000")
    assert client.get("/health/live").status_code == 200
    assert client.get("/health/ready").status_code == 200
    # Everything else keeps both rules: a foreign Host is refused, plain HTTP redirected.
    assert client.get("/login/").status_code == 400
    assert Client(HTTP_HOST="ereferral.example.org").get("/login/").status_code == 301


@pytest.mark.django_db
def test_repeated_anonymous_calls_share_one_run_of_the_checks(health, settings, monkeypatch):
    """Anyone may call /health/ready: without the token they get the answer of the last few
    seconds, so a flood of calls cannot make every web process hit the database, the broker and
    the disk each time. The token (the operator's monitoring) always gets a fresh run."""
    from django.test.utils import CaptureQueriesContext

    import ops.readiness

    settings.OPS_READY_ANONYMOUS_CACHE_SECONDS = 10
    monkeypatch.setattr(ops.readiness, "_recent", None)  # no earlier test's run
    now = [1000.0]
    monkeypatch.setattr(ops.readiness, "_clock", lambda: now[0])
    runs = []
    real_checks = ops.readiness.readiness_checks

    def counted():
        runs.append(1)
        return real_checks()

    monkeypatch.setattr(ops.readiness, "readiness_checks", counted)
    assert ready() == (200, [f"{name} ok" for name in CHECKS])
    with CaptureQueriesContext(connection) as queries:
        for _ in range(20):
            assert ready() == (200, [f"{name} ok" for name in CHECKS])
    assert len(runs) == 1
    assert len(queries) == 0
    # The operator's token runs them now, and sees beat stopped at once.
    Heartbeat.objects.filter(name="beat").update(beat_at=timezone.now() - timedelta(seconds=185))
    status, lines = ready(token=TOKEN)
    assert status == 503 and len(runs) == 2
    # The anonymous answer catches up within the few seconds.
    now[0] += 11
    status, lines = ready()
    assert status == 503 and "beat failing" in lines
    assert len(runs) == 3
