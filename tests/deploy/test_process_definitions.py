"""Every process that deploy/systemd/ and deploy/compose.yaml start is started here, as they
start it, and answers the health check they give it.

Docker and systemd do not run on these machines, so the definitions are read instead: each
unit's ExecStart, Environment and ExecStartPost, and each compose service's command,
environment and healthcheck. The command runs from the repository (the units' /opt/ereferral,
the image's /app) with this checkout's virtualenv, on the production profile, against the test
database and a private Redis; its state folders go to a temporary one. Then the check runs as
the supervisor would run it, and the workers must answer a ping on the queues they were given.
"""

import configparser
import contextlib
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from celery import Celery

from tests.processes import REPO, PrivateRedis, kill_process_group, log_tail, wait_for

pytestmark = pytest.mark.processes

DEPLOY = REPO / "deploy"
UNITS = ["ereferral-web", "ereferral-worker-hrm", "ereferral-worker-default", "ereferral-beat"]
SERVICES = ["web", "worker-hrm", "worker-default", "beat"]
QUEUES = {"worker-hrm": {"hrm"}, "worker-default": {"celery"}}
UNIT_HOST = "deploy-test"  # systemd's %H


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def read_unit(name: str) -> configparser.ConfigParser:
    unit = configparser.ConfigParser(interpolation=None, strict=False)
    unit.optionxform = str  # systemd's keys are case-sensitive
    unit.read_string((DEPLOY / "systemd" / name).read_text())
    return unit


def unit_environment(service: configparser.SectionProxy) -> dict[str, str]:
    return dict(item.split("=", 1) for item in shlex.split(service.get("Environment", "")))


def read_compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


class Here:
    """Maps the paths of a definition to this checkout and a temporary state folder."""

    def __init__(self, state: Path):
        self.state = state

    def path(self, word: str) -> str:
        word = word.replace("/opt/ereferral/.venv/bin/", f"{REPO}/.venv/bin/")
        word = word.replace("/opt/ereferral", str(REPO)).replace("/app/", f"{REPO}/")
        for folder in ("/var/lib/ereferral", "/data"):
            if word.startswith(folder + "/"):
                target = self.state / word[len(folder) + 1 :]
                target.parent.mkdir(parents=True, exist_ok=True)
                return str(target)
        return word

    def command(self, words: list[str]) -> list[str]:
        words = [self.path(word) for word in words]
        # The image's PATH starts with its virtualenv; here, this checkout's.
        if "/" not in words[0]:
            words[0] = str(REPO / ".venv" / "bin" / words[0])
        return words

    def systemd(self, line: str, instance: str = "") -> list[str]:
        line = line.lstrip("+-@:!")
        line = line.replace("%%", "\0").replace("%H", UNIT_HOST).replace("%i", instance)
        return self.command([word.replace("\0", "%") for word in shlex.split(line)])


@pytest.fixture(scope="module")
def redis(tmp_path_factory):
    server = PrivateRedis(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def production(transactional_db, redis, tmp_path):
    """The production profile's environment, on the test database (committed: the processes
    see what the test writes) and the private Redis."""
    from django.db import connection

    database = connection.settings_dict
    database_url = (
        f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}"
    )
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TEST_", "DJANGO_", "PYTEST_"))
    }
    environment.update(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        SECRET_KEY="deploy-test-" + "x" * 40,
        ALLOWED_HOSTS="ereferral.test",
        SITE_URL="https://ereferral.test",
        DATABASE_URL=database_url,
        DATABASE_OWNER_URL=database_url,
        CELERY_BROKER_URL=redis.url,
        CACHE_URL=redis.url.replace("/0", "/1").replace("redis://", "rediscache://"),
        HRM_AES_KEY="00112233445566778899aabbccddeeff",
        HRM_TRANSPORT="folder",
        HRM_FOLDER_DIR=str(tmp_path / "hrm-outbox"),
        PRIVATE_MEDIA_ROOT=str(tmp_path / "private"),
        STATIC_ROOT=str(tmp_path / "static"),
        TRUSTED_PROXY_COUNT="1",
        # These processes connect as the test server's superuser, which the production start-up
        # check of the runtime role refuses; the two roles are tested on their own
        # (tests/security/test_database_roles.py).
        ACCESS_TRAIL_ROLE_CHECK="false",
        PATH=f"{REPO / '.venv' / 'bin'}:{os.environ['PATH']}",
    )
    (tmp_path / "static").mkdir()  # collectstatic's, at installation
    return environment


class Started:
    def __init__(self, command, environment, log: Path):
        self.log = log
        self.process = subprocess.Popen(
            command, cwd=REPO, env=environment, stdout=log.open("w"),
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(30)
        kill_process_group(self.process)


def run_check(command, environment, process: Started, timeout=90.0) -> subprocess.CompletedProcess:
    """The supervisor's check, repeated until it passes (a process just started) or the time is up;
    the process must still be running."""
    outcome = {}

    def passes():
        assert process.process.poll() is None, (
            f"{command} ended with {process.process.returncode}:\n{log_tail(process.log)}"
        )
        outcome["last"] = subprocess.run(
            command, cwd=REPO, env=environment, capture_output=True, text=True, timeout=90
        )
        return outcome["last"].returncode == 0

    wait_for(
        passes,
        timeout=timeout,
        interval=1,
        message=lambda: (
            f"{command} to pass; it said {outcome['last'].stderr[-500:]!r}; "
            f"the process's log:\n{log_tail(process.log)}"
        ),
    )
    return outcome["last"]


def assert_consumes(broker_url: str, node: str, queues: set[str], process: Started):
    probe = Celery("deploy-probe", broker=broker_url)
    try:
        answered = wait_for(
            lambda: probe.control.inspect([node], timeout=2).active_queues(),
            timeout=60,
            interval=1,
            message=lambda: f"{node} to answer; its log:\n{log_tail(process.log)}",
        )
    finally:
        probe.close()
    assert {queue["name"] for queue in answered[node]} == queues


@pytest.mark.parametrize("unit_name", UNITS)
def test_each_systemd_unit_starts_and_passes_its_checks(unit_name, production, tmp_path):
    unit = read_unit(f"{unit_name}.service")
    service = unit["Service"]
    here = Here(tmp_path / "state")
    environment = {**production, **unit_environment(service)}
    if "GUNICORN_BIND" in environment:  # port 8000 may be another program's on a shared machine
        environment["GUNICORN_BIND"] = f"127.0.0.1:{_free_port()}"
    assert service["WorkingDirectory"] == "/opt/ereferral"
    assert service["EnvironmentFile"] == "/etc/ereferral/ereferral.env"
    process = Started(here.systemd(service["ExecStart"]), environment, tmp_path / "process.log")
    try:
        run_check(here.systemd(service["ExecStartPost"]), environment, process)
        kind = unit_name.removeprefix("ereferral-")
        if kind in QUEUES:
            node = service["ExecStart"].split(" -n ")[1].split()[0].replace("%H", UNIT_HOST)
            assert_consumes(production["CELERY_BROKER_URL"], node, QUEUES[kind], process)
        # The timer's periodic check of this unit passes too.
        check = read_unit("ereferral-check@.service")["Service"]
        assert check["WorkingDirectory"] == service["WorkingDirectory"]
        check_environment = {**production, **unit_environment(check)}
        check_environment["GUNICORN_BIND"] = environment.get("GUNICORN_BIND", "")
        run_check(here.systemd(check["ExecStart"], kind), check_environment, process)
        if kind == "beat":  # beat has opened the schedule the unit gives it
            wait_for(
                lambda: list(here.state.glob("celerybeat-schedule*")),
                timeout=30,
                message=lambda: f"beat's schedule file; its log:\n{log_tail(process.log)}",
            )
    finally:
        process.stop()


@pytest.mark.parametrize("name", SERVICES)
def test_each_compose_service_starts_and_passes_its_healthcheck(name, production, tmp_path):
    compose = read_compose()
    service = compose["services"][name]
    here = Here(tmp_path / "data")
    environment = {**production, **{k: str(v) for k, v in service.get("environment", {}).items()}}
    if "GUNICORN_BIND" in environment:
        environment["GUNICORN_BIND"] = f"127.0.0.1:{_free_port()}"
    command = here.command(service["command"])
    test = service["healthcheck"]["test"]
    assert test[0] == "CMD"
    process = Started(command, environment, tmp_path / "process.log")
    try:
        run_check(here.command(test[1:]), environment, process)
        if name in QUEUES:
            node = service["command"][service["command"].index("-n") + 1]
            node = node.replace("%h", socket.gethostname())
            assert_consumes(production["CELERY_BROKER_URL"], node, QUEUES[name], process)
    finally:
        process.stop()


def test_compose_migrates_first_with_the_owner_role(production, tmp_path):
    compose = read_compose()
    migrate = compose["services"]["migrate"]
    for name in SERVICES:
        assert compose["services"][name]["depends_on"]["migrate"] == {
            "condition": "service_completed_successfully"
        }
    result = subprocess.run(
        Here(tmp_path).command(migrate["command"]),
        cwd=REPO, env=production, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_proxy_sends_the_headers_the_trusted_proxy_setting_reads():
    conf = (DEPLOY / "nginx" / "ereferral.conf").read_text()
    settings_file = (DEPLOY / "ereferral.env.example").read_text()
    assert "TRUSTED_PROXY_COUNT=1" in settings_file.splitlines()
    # The header is read only from the proxy: loopback beside systemd's gunicorn, compose's
    # private network beside compose's.
    assert "TRUSTED_PROXIES=127.0.0.1,::1" in settings_file.splitlines()
    upstream = (DEPLOY / "nginx" / "ereferral-upstream.conf").read_text()
    assert "server 127.0.0.1:8000;" in upstream
    web = read_compose()["services"]["web"]
    assert web["environment"]["TRUSTED_PROXIES"] == "172.16.0.0/12,192.168.0.0/16"
    assert "ports" not in web
    for location in conf.split("location ")[1:]:
        assert "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;" in location
        assert "proxy_set_header X-Forwarded-Proto $scheme;" in location
        assert "proxy_set_header X-Request-ID $request_id;" in location
    assert "listen 443 ssl;" in conf


def test_the_dockerfile_passes_hadolint_and_installs_the_lock_with_hashes():
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert "COPY requirements/product.txt" in dockerfile
    assert "--require-hashes" in dockerfile
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent))
    result = subprocess.run(
        [hadolint, "--no-color", str(DEPLOY / "Dockerfile")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_images_static_files_step_runs(tmp_path):
    """The Dockerfile's collectstatic step, as written, on the production profile."""
    dockerfile = (DEPLOY / "Dockerfile").read_text().replace("\\\n", " ")
    step = next(
        line
        for line in dockerfile.splitlines()
        if line.startswith("RUN ") and "collectstatic" in line
    )
    command = step.removeprefix("RUN ").replace("/app/staticfiles", str(tmp_path / "static"))
    command = command.replace("python ", f"{REPO / '.venv' / 'bin' / 'python'} ", 1)
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("TEST_", "DJANGO_"))}
    environment["DJANGO_SETTINGS_MODULE"] = "config.settings.production"
    result = subprocess.run(
        ["bash", "-c", command], cwd=REPO, env=environment, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "static" / "staticfiles.json").exists()
