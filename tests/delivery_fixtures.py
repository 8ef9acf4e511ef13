"""Delivery tests: live stakeholders and an approved sender, a real SFTP server on loopback, a
private Redis the tests may stop, and a real Celery worker."""

from types import SimpleNamespace

import pytest
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun
from django import db
from django.db import connection
from django.utils import timezone

from config.celery import app as celery_app
from hrm.models import HrmReceiver, SenderApproval
from hrm.transport_config import transport_close
from sandbox.sftp_server import SandboxSftpServer

from .processes import PrivateRedis, sftp_environment, wait_for  # noqa: F401 — wait_for: tests

AES_KEY = "00112233445566778899aabbccddeeff"


def make_live(world) -> None:
    """Make the personas' stakeholders live on HRM and approve the specialist to send: the
    referrer's practice (Dr. Nguyen), the central intake (Nurse Okafor) and the cardiology."""
    for listing, (first, last, pid) in (
        (world.practice_listing, ("Alice", "Nguyen", "D12345")),
        (world.intake_listing, ("Grace", "Okafor", "N1234567")),
        (world.cardiology, ("François", "Lee", "D67890")),
    ):
        listing.clinician_first_name, listing.clinician_surname = first, last
        listing.clinician_professional_id = pid
        listing.save()
        HrmReceiver.objects.create(professional_id=pid, first_name=first, last_name=last)
    world.specialist.hrm_upi = "UPI67890"
    world.specialist.save()
    SenderApproval.objects.create(
        user=world.specialist,
        site=world.cardiology.site,
        upi="UPI67890",
        status=SenderApproval.Status.APPROVED,
        decided_at=timezone.now(),
    )


@pytest.fixture
def live(world, referral):
    """The referral (forwarded by the intake to the specialist) with live stakeholders."""
    make_live(world)
    return SimpleNamespace(world=world, referral=referral)


@pytest.fixture
def sftp_server(tmp_path):
    with SandboxSftpServer(tmp_path / "hrm-sftp") as server:
        yield server


@pytest.fixture
def hrm_sftp(settings, sftp_server):
    """Point the sftp transport at the loopback server, with quick retries for tests."""
    login = sftp_server.login
    settings.HRM_TRANSPORT = "sftp"
    settings.HRM_SFTP_HOST = login.host
    settings.HRM_SFTP_PORT = login.port
    settings.HRM_SFTP_USER = login.user
    settings.HRM_SFTP_KEY_FILE = str(login.key_file)
    settings.HRM_SFTP_KNOWN_HOSTS = str(login.known_hosts_file)
    settings.HRM_SFTP_DIR = login.remote_dir
    settings.HRM_SFTP_TIMEOUT_SECONDS = 5
    settings.HRM_AES_KEY = AES_KEY
    settings.HRM_RETRY_FIRST_DELAY_SECONDS = 0.3
    settings.HRM_RETRY_MAX_DELAY_SECONDS = 0.6
    settings.HRM_REDRIVE_GRACE_SECONDS = 0
    yield sftp_server
    transport_close()


def delivered_files(server: SandboxSftpServer) -> list[str]:
    """What HRM received: on a server that takes files away as HRM does, every file it took
    (a name twice when it arrived twice); otherwise the final files in its folder. A ``.part``
    never counts as delivered."""
    if server.consume:
        return sorted(name for name, _ in server.taken)
    return sorted(p.name for p in server.inbox.iterdir() if not p.name.endswith(".part"))


def delivered_bytes(server: SandboxSftpServer, name: str) -> bytes:
    """The file HRM received under ``name``."""
    if server.consume:
        return server.taken_data[name]
    return (server.inbox / name).read_bytes()


def part_files(server: SandboxSftpServer) -> list[str]:
    return sorted(p.name for p in server.inbox.iterdir() if p.name.endswith(".part"))


@pytest.fixture(scope="session")
def private_redis(tmp_path_factory):
    redis = PrivateRedis(tmp_path_factory.mktemp("redis"))
    redis.start()
    yield redis
    redis.stop()


def _use_broker(url: str) -> None:
    # The app caches its connection pools; drop them so the new broker is used everywhere.
    celery_app.conf.broker_url = url
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.fixture
def broker(private_redis, settings):
    settings.CELERY_BROKER_URL = private_redis.url
    _use_broker(private_redis.url)
    with celery_app.connection_for_write() as connection:
        connection.default_channel.client.flushdb()
    yield private_redis
    if private_redis.process is None:
        private_redis.start()


def _close_worker_connection(**kwargs):
    # The worker thread has its own database connection; closing it after each task leaves no
    # session behind to block the test database's flush between tests.
    db.connection.close()


@pytest.fixture
def worker(broker, hrm_sftp):
    """A real Celery worker (solo pool, in a thread) consuming the hrm queue from the broker."""
    task_postrun.connect(_close_worker_connection)
    try:
        with start_worker(
            celery_app,
            pool="solo",
            perform_ping_check=False,
            queues=["hrm", "celery"],
            shutdown_timeout=20,
        ) as running:
            yield running
    finally:
        task_postrun.disconnect(_close_worker_connection)


def worker_environment(broker, server) -> dict[str, str]:
    """What a `celery worker` process started by a test needs: the test database, the test's
    broker and the sandbox SFTP server, with quick re-drives."""
    return {
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        # The worker works on the test database itself, not on a copy of it.
        "TEST_DATABASE_URL": (
            f"postgres://postgres@127.0.0.1:5432/{connection.settings_dict['NAME']}"
        ),
        "TEST_CELERY_BROKER_URL": broker.url,
        **sftp_environment(server.login, AES_KEY),
        "HRM_SENDING_STALE_SECONDS": "5",
        "HRM_REDRIVE_GRACE_SECONDS": "0",
    }
