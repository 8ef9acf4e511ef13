"""Two database roles on real PostgreSQL: scripts/db_roles.sh makes an owner and a runtime role
and their database, `migrate` runs as the owner (DATABASE_OWNER_URL, production profile), and the
runtime role (DATABASE_URL) does everything the application needs, but to the access trail only
INSERT and SELECT. The start-up check (audit/checks.py) refuses the owner, a superuser and a
runtime role granted more, naming the role. Last, the whole production stack: gunicorn on the
runtime role behind the HTTPS proxy's headers.

The rest of the suite keeps running as the server's superuser on its own test database: these
tests make their own roles and throwaway database (named after the test database, so parallel
runs do not meet), once for the module."""

import http.client
import os
import re
import socket
import subprocess
import sys
import urllib.parse
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from psycopg import errors, sql

from ..factories import PASSWORD
from ..processes import _free_port, log_tail, wait_for

ROOT = Path(__file__).resolve().parents[2]
SERVER = settings.DATABASES["default"]
PREFIX = SERVER["NAME"].removeprefix("test_")
DATABASE, OWNER, RUNTIME = f"{PREFIX}_roles", f"{PREFIX}_owner", f"{PREFIX}_app"

pytestmark = pytest.mark.processes


def url(role: str) -> str:
    return f"postgres://{role}@{SERVER['HOST']}:{SERVER['PORT']}/{DATABASE}"


def superuser_connection(dbname: str = "postgres") -> psycopg.Connection:
    return psycopg.connect(
        host=SERVER["HOST"], port=SERVER["PORT"], user=SERVER["USER"], dbname=dbname,
        autocommit=True,
    )  # fmt: skip


def production(**changes: str) -> dict[str, str]:
    """A production profile's environment on the roles' database, as the runtime role."""
    bare = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "TEST_"))}
    return {
        **bare,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "SECRET_KEY": "a-long-production-secret-key-0123456789-abcdefghijklmnop",
        "ALLOWED_HOSTS": "ereferral.example",
        "HRM_AES_KEY": "00112233445566778899aabbccddeeff",
        "DATABASE_URL": url(RUNTIME),
        "DATABASE_OWNER_URL": url(OWNER),
        **changes,
    }


def run(*command: str, env: dict[str, str], timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


def roles_script() -> subprocess.CompletedProcess:
    env = {**os.environ, "PGHOST": SERVER["HOST"], "PGPORT": str(SERVER["PORT"])}
    env["PGUSER"] = SERVER["USER"]
    return run("bash", "scripts/db_roles.sh", DATABASE, OWNER, RUNTIME, env=env)


def _drop_everything():
    with superuser_connection() as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(DATABASE))
        )
        for role in (OWNER, RUNTIME):
            admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


@pytest.fixture(scope="module")
def migrated():
    """The roles and their database, migrated by `manage.py migrate` as the owner."""
    _drop_everything()
    try:
        created = roles_script()
        assert created.returncode == 0, created.stderr
        migrated = run(sys.executable, "manage.py", "migrate", "-v", "0", env=production())
        assert migrated.returncode == 0, migrated.stderr
        yield
    finally:
        _drop_everything()


@pytest.fixture
def as_runtime(migrated):
    with psycopg.connect(url(RUNTIME), autocommit=True) as connection:
        yield connection


TRAIL_ROW = """
INSERT INTO audit_accessentry (at, actor_username, actor_name, action, record, patient_name,
    patient_health_card, detail, path)
VALUES (now(), 'dr.roles', 'Dr Roles', 'viewed', 'referral', 'Tremblay, Hélène', '9876543217', '',
    '/referrals/1/')
RETURNING id
"""


def test_the_runtime_role_inserts_and_reads_the_trail(as_runtime):
    [entry_id] = as_runtime.execute(TRAIL_ROW).fetchone()
    query = "SELECT actor_username FROM audit_accessentry WHERE id = %s"
    assert as_runtime.execute(query, [entry_id]).fetchone() == ("dr.roles",)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_accessentry SET patient_name = 'someone else'",
        "DELETE FROM audit_accessentry",
        "TRUNCATE audit_accessentry",
        "ALTER TABLE audit_accessentry DISABLE TRIGGER audit_accessentry_append_only",
        "ALTER TABLE audit_accessentry DISABLE TRIGGER ALL",
        "DROP TRIGGER audit_accessentry_append_only ON audit_accessentry",
        "DROP TABLE audit_accessentry",
        "ALTER TABLE audit_accessentry OWNER TO CURRENT_USER",
        "CREATE TABLE audit_accessentry_copy (id int)",
    ],
)
def test_the_runtime_role_cannot_change_or_erase_the_trail(as_runtime, statement):
    as_runtime.execute(TRAIL_ROW)
    with pytest.raises(errors.InsufficientPrivilege):
        as_runtime.execute(statement)
    assert as_runtime.execute("SELECT count(*) FROM audit_accessentry").fetchone()[0] >= 1


# What the application does, as the runtime role: users, sites, listings, a referral forwarded,
# a message, sessions, the trail (the test profile, for its factories, on the roles' database).
APPLICATION = """
import django
django.setup()
from django.contrib.sessions.backends.db import SessionStore
from audit.services import access_record
from referrals import services
from tests.delivery_fixtures import make_live
from tests.factories import make_referral, make_world
world = make_world()
make_live(world)
referral = make_referral(world.referrer, world.practice_listing, world.intake_listing)
services.referral_forward(referral=referral, to_listing=world.cardiology, actor=world.intake)
message = services.message_post(
    referral=referral, author=world.specialist, text="Letter", files=[]
)
from hrm.reports.services import report_xml_ensure
assert all(report_xml_ensure(report) for report in message.hrm_reports.all())
assert message.hrm_reports.exclude(xml=b"").exists()  # the worker's store, as this role
world.referrer.set_password("another-long-password-2026")
world.referrer.save()
session = SessionStore()
session["k"] = "v"
session.create()
session.delete()
access_record(
    None, action="viewed", record="referral", actor=world.referrer, referral_id=referral.pk
)
world.stranger.delete()
print("done")
"""


def test_the_runtime_role_does_everything_else_the_application_needs(migrated):
    env = {
        **production(),
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "TEST_DATABASE_URL": url(RUNTIME),
        # No broker: the message's HRM task stays in the outbox, as when Redis is down.
        "TEST_CELERY_BROKER_URL": "redis://127.0.0.1:1/0",
    }
    result = run(sys.executable, "-c", APPLICATION, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == "done"


# --- The start-up check --------------------------------------------------------------------------

START_WEB = "import config.wsgi"


def test_the_web_process_starts_on_the_runtime_role(migrated):
    result = run(sys.executable, "-c", START_WEB, env=production())
    assert result.returncode == 0, result.stderr
    check = run(sys.executable, "manage.py", "check", "--database", "default", env=production())
    assert check.returncode == 0, check.stderr


def test_the_owner_role_is_refused_at_start_up_by_name(migrated):
    as_owner = production(DATABASE_URL=url(OWNER))
    expected = f"The application's database role '{OWNER}' owns the access trail"
    web = run(sys.executable, "-c", START_WEB, env=as_owner)
    assert web.returncode != 0
    assert "ImproperlyConfigured" in web.stderr and expected in web.stderr
    assert "DATABASE_OWNER_URL" in web.stderr
    check = run(sys.executable, "manage.py", "check", "--database", "default", env=as_owner)
    assert check.returncode == 1
    assert "(audit.E002)" in check.stderr and expected in check.stderr


def test_a_worker_on_the_owner_role_does_not_start(migrated):
    as_owner = production(DATABASE_URL=url(OWNER), CELERY_BROKER_URL="redis://127.0.0.1:1/0")
    worker = run(
        sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "solo",
        "--without-mingle", "--without-gossip", env=as_owner, timeout=120,
    )  # fmt: skip
    assert worker.returncode != 0
    assert f"'{OWNER}' owns the access trail" in worker.stdout + worker.stderr


def test_a_superuser_is_refused(migrated):
    as_superuser = production(DATABASE_URL=url(SERVER["USER"]))
    check = run(sys.executable, "manage.py", "check", "--database", "default", env=as_superuser)
    assert check.returncode == 1
    assert "(audit.E001)" in check.stderr
    assert f"database role '{SERVER['USER']}' is a superuser" in check.stderr


def test_a_runtime_role_granted_truncate_is_refused_until_the_script_runs_again(migrated):
    with superuser_connection(DATABASE) as admin:
        admin.execute(sql.SQL("GRANT TRUNCATE, UPDATE ON audit_accessentry TO {}").format(
            sql.Identifier(RUNTIME)
        ))  # fmt: skip
    refused = run(sys.executable, "manage.py", "check", "--database", "default", env=production())
    assert refused.returncode == 1
    assert "(audit.E003)" in refused.stderr
    assert f"'{RUNTIME}' may UPDATE, TRUNCATE the access trail" in refused.stderr
    assert roles_script().returncode == 0  # what the docs say to do: grants put right
    check = run(sys.executable, "manage.py", "check", "--database", "default", env=production())
    assert check.returncode == 0, check.stderr


def test_check_deploy_warns_when_the_role_check_is_turned_off():
    off = production(ACCESS_TRAIL_ROLE_CHECK="false", DATABASE_URL="sqlite:///:memory:")
    result = run(sys.executable, "manage.py", "check", "--deploy", env=off)
    assert "(audit.W001) Nothing checks that the application's database role cannot erase " in (
        result.stderr
    )


# --- The whole production stack: gunicorn behind the proxy's headers, on the runtime role -------

SEED_A_REFERRAL = """
from tests.factories import make_listing, make_referral, make_site, make_user
clinic, hospital = make_site("Gunicorn Clinic"), make_site("Gunicorn Hospital")
owner = make_user(clinic, "dr.gunicorn", first_name="Gail", last_name="Gunicorn")
referral = make_referral(owner, make_listing(clinic), make_listing(hospital))
print(referral.pk)
"""
HOST = "ereferral.example"


class ProxiedHttps:
    """A browser at ``address`` whose requests reach gunicorn through the HTTPS proxy: Host,
    X-Forwarded-Proto and X-Forwarded-For as deploy's nginx sets them. Cookies are kept by hand
    (they are Secure, and this hop is plain HTTP, as behind the proxy)."""

    def __init__(self, port: int, address: str, forged: str = ""):
        self.port, self.address, self.forged = port, address, forged
        self.cookies: dict[str, str] = {}

    def request(self, method, path, fields=None):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        headers = {
            "Host": HOST,
            "X-Forwarded-Proto": "https",
            "X-Forwarded-For": f"{self.forged}, {self.address}" if self.forged else self.address,
            "Origin": f"https://{HOST}",
            "Referer": f"https://{HOST}{path}",
            "Cookie": "; ".join(f"{name}={value}" for name, value in self.cookies.items()),
        }
        body = None
        if fields is not None:
            body = urllib.parse.urlencode(fields)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            self.cookies[name] = rest.split(";", 1)[0]
        page = response.read().decode()
        connection.close()
        return response.status, page

    def sign_in(self, username, password):
        _, page = self.request("GET", "/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)[1]
        fields = {"csrfmiddlewaretoken": token, "username": username, "password": password}
        return self.request("POST", "/login/", fields)[0]


@pytest.fixture
def gunicorn(migrated, tmp_path):
    seeded = run(sys.executable, "manage.py", "shell", "-c", SEED_A_REFERRAL, env=production())
    assert seeded.returncode == 0, seeded.stderr
    port = _free_port()
    log = tmp_path / "gunicorn.log"
    env = production(
        TRUSTED_PROXY_COUNT="1",
        STATIC_ROOT=str(tmp_path / "static"),
        CACHE_URL=os.environ.get("TEST_CELERY_BROKER_URL", "redis://127.0.0.1:6379/15").replace(
            "redis://", "rediscache://"
        ),
    )
    collected = run(sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0", env=env)
    assert collected.returncode == 0, collected.stderr
    with log.open("w") as output:
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "gunicorn"), "config.wsgi:application",
             "--bind", f"127.0.0.1:{port}", "--workers", "1"],
            cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT,
        )  # fmt: skip

    def answering():
        if process.poll() is not None:
            return True  # it exited: said below, with its log
        return (
            _answers(port) and ProxiedHttps(port, "192.0.2.1").request("GET", "/login/")[0] == 200
        )

    try:
        wait_for(answering, timeout=120, message=lambda: f"gunicorn; its log:\n{log_tail(log)}")
        assert process.poll() is None, log_tail(log)
        yield port, int(seeded.stdout.split()[-1])
    finally:
        process.terminate()
        process.wait(30)


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def test_behind_gunicorn_and_the_proxy_each_client_is_told_apart(gunicorn):
    port, referral_id = gunicorn
    attacker = ProxiedHttps(port, "203.0.113.66", forged="198.51.100.7")
    statuses = [attacker.sign_in("dr.gunicorn", "wrong-password-123") for _ in range(5)]
    assert statuses == [200, 200, 200, 200, 429]
    # The owner, elsewhere (the address the attacker forged), signs in and opens the referral.
    owner = ProxiedHttps(port, "198.51.100.7", forged="10.6.6.6")
    assert owner.sign_in("dr.gunicorn", PASSWORD) == 302
    assert owner.request("GET", f"/referrals/{referral_id}/")[0] == 200
    with psycopg.connect(url(RUNTIME)) as as_runtime:
        addresses = as_runtime.execute(
            "SELECT host(ip_address) FROM audit_accessentry WHERE referral_id = %s",
            [referral_id],
        ).fetchall()
        locked = as_runtime.execute(
            "SELECT host(ip_address) FROM axes_accessattempt WHERE username = 'dr.gunicorn'"
        ).fetchall()
    assert addresses == [("198.51.100.7",)]
    assert locked == [("203.0.113.66",)]
