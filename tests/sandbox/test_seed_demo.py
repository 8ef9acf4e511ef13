"""``manage.py seed_demo`` (sandbox/management/commands/seed_demo.py): the demo's data, complete
and idempotent, every admin page working on it, what the demo shows once delivered, and the
command refusing the production profile."""

import io
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from django.apps import apps
from django.contrib import admin
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse
from psycopg import sql

from directory.models import Listing, Site, User
from hrm.delivery.connections import transport_get
from hrm.delivery.selectors.messages import HrmIcon, message_hrm_icon
from hrm.delivery.services.outbox import report_deliver
from hrm.models import HrmReport
from referrals.models import Attachment, Message, Referral, ReferralEvent
from sandbox.models import EmrDocument, EmrRetrievalLog
from sandbox.services.charts import sandbox_charts_sync
from sandbox.services.polling import sandbox_poll

from ..admin_pages import admin_search
from ..delivery_fixtures import AES_KEY

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_ENV = {
    "SECRET_KEY": "a-long-production-secret-key-0123456789-abcdefghijklmnop",
    "ALLOWED_HOSTS": "ereferral.example",
    "HRM_AES_KEY": "00112233445566778899aabbccddeeff",
}


@pytest.fixture
def demo(db):
    call_command("seed_demo", stdout=io.StringIO())


def test_seed_demo_is_idempotent_and_complete(demo):
    counts = [m.objects.count() for m in (Site, User, Listing, Referral, Message, Attachment)]
    call_command("seed_demo", stdout=io.StringIO())
    assert [
        m.objects.count() for m in (Site, User, Listing, Referral, Message, Attachment)
    ] == counts
    assert 2 <= Site.objects.count() <= 3
    assert User.objects.exclude(professional_id="").count() >= 4
    assert Listing.objects.filter(requires_sign_in=True).exists()
    assert Listing.objects.filter(requires_sign_in=False).exists()
    assert ReferralEvent.objects.filter(kind="forwarded").exists()
    letters = Attachment.objects.filter(content_type="application/pdf")
    assert letters.exists()
    assert all(letter.file.read().startswith(b"%PDF") for letter in letters)


def test_demo_logins_work(demo, client):
    # Through the sign-in page: django-axes counts every sign-in, so it needs the request.
    response = client.post("/login/", {"username": "dr.nguyen", "password": "demo-pass-2026"})
    assert response.status_code == 302
    assert "Tremblay, Hélène" in client.get("/referrals/?folder=sent").content.decode()


def test_every_model_has_a_working_admin_changelist(demo, client):
    client.post("/login/", {"username": "support", "password": "demo-pass-2026"})
    for model in (Site, User, Listing, Referral, Message, Attachment, ReferralEvent):
        assert admin.site.is_registered(model)
    for model in apps.get_models():
        if model._meta.app_label in ("directory", "referrals", "hrm", "hrm_sandbox"):
            assert admin.site.is_registered(model), model
    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        assert client.get(url).status_code == 200, url
        if model_admin.search_fields:
            assert admin_search(client, url, "Tremblay").status_code == 200, url
        first = model.objects.first()
        if first is not None:
            change = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[first.pk])
            assert client.get(change).status_code == 200, change


def test_demo_shows_a_checkmark_a_red_mark_and_a_reason(db, hrm_sftp):
    """What the README promises a person trying the demo, once the worker has run."""
    hrm_sftp.refuse_deliver_to("D13579")  # as scripts/demo.sh starts the sandbox
    call_command("seed_demo", stdout=io.StringIO())
    transport = transport_get()
    for report in HrmReport.objects.all():
        report_deliver(report.pk, transport)
    icons = {}
    for message in Message.objects.select_related("author"):
        reports = list(message.hrm_reports.all())
        icons.setdefault(message_hrm_icon(reports), []).append(message)
    assert {HrmIcon.SENT, HrmIcon.FAILED, HrmIcon.NONE} <= set(icons)
    assert any(m.author.username == "dr.lee" for m in icons[HrmIcon.SENT])
    assert any(m.author.username == "dr.patel" for m in icons[HrmIcon.FAILED])
    reasons = [m.hrm_decision.reasons for m in icons[HrmIcon.NONE]]
    assert ["The referrer was not signed in when sending the eReferral."] in [
        r[:1] for r in reasons
    ]


@pytest.mark.parametrize("profile", ["open-o", "oscar", "juno"])
def test_the_demos_sent_reports_are_filed_and_shown_under_every_emr_profile(db, hrm_sftp, profile):
    hrm_sftp.refuse_deliver_to("D13579")  # as scripts/demo.sh starts the sandbox
    call_command("seed_demo", stdout=io.StringIO())
    transport = transport_get()
    for report in HrmReport.objects.all():
        report_deliver(report.pk, transport)
    sent = HrmReport.objects.filter(status=HrmReport.Status.SENT)
    assert sent.exists()
    sandbox_charts_sync()
    sandbox_poll(hrm_sftp.login, AES_KEY, profile=profile)
    assert not EmrRetrievalLog.objects.filter(outcome="refused").exists()
    filed = {document.message_unique_id: document for document in EmrDocument.objects.all()}
    routed = EmrRetrievalLog.objects.filter(outcome="routed").values_list(
        "message_unique_id", flat=True
    )
    for report in sent:
        assert report.transaction_id in filed or report.transaction_id in set(routed)
    for document in filed.values():
        assert not document.is_hidden, document.hidden_reason
        assert document.patient is not None


# --- never on production ------------------------------------------------------------------------


def manage(*args, env: dict[str, str]) -> subprocess.CompletedProcess:
    """``manage.py`` in a process of its own, on a bare environment plus ``env``."""
    bare = {name: os.environ[name] for name in ("PATH", "HOME", "LANG") if name in os.environ}
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=ROOT,
        env={**bare, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_production_profile_has_no_seed_demo(tmp_path):
    database = tmp_path / "production.sqlite3"
    result = manage(
        "seed_demo",
        env={
            **PRODUCTION_ENV,
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "DATABASE_URL": f"sqlite:///{database}",
        },
    )
    assert result.returncode == 1
    assert "Unknown command: 'seed_demo'" in result.stderr
    assert "Demo data is ready" not in result.stdout
    assert not database.exists() or database.stat().st_size == 0  # nothing was written


def test_seed_demo_refuses_the_production_profile_and_says_why(tmp_path):
    # Settings built on production that force the sandbox in past its own guard (sandbox/apps.py):
    # the command still refuses, before it writes anything.
    (tmp_path / "forced_sandbox_settings.py").write_text(
        "from config.settings.production import *  # noqa: F403\n"
        "from config.settings import sandbox\n"
        "INSTALLED_APPS = [*INSTALLED_APPS, 'sandbox']  # noqa: F405\n"
        "HRM_SANDBOX_ALLOWED = True\n"
        "HRM_SANDBOX_EMR_PROFILE = sandbox.HRM_SANDBOX_EMR_PROFILE\n"
        "HRM_SANDBOX_ENABLED = False\n"
    )
    database = tmp_path / "production.sqlite3"
    result = manage(
        "seed_demo",
        env={
            **PRODUCTION_ENV,
            "DJANGO_SETTINGS_MODULE": "forced_sandbox_settings",
            "PYTHONPATH": str(tmp_path),
            "DATABASE_URL": f"sqlite:///{database}",
        },
    )
    assert result.returncode == 1, result.stderr
    assert "seed_demo refuses to run with the production settings" in result.stderr
    assert "superuser" in result.stderr and "published" in result.stderr
    assert "Demo data is ready" not in result.stdout
    assert not database.exists() or database.stat().st_size == 0  # nothing was written


def test_the_belanger_referrer_follows_the_referral_with_an_emailed_code(db, settings):
    """The README's tour: the referrer without an account opens the link seed_demo prints."""
    import re

    from django.core import mail
    from django.test import Client

    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    link = re.search(r"(http\S+/referrals/follow/[0-9a-f-]+/)", out.getvalue()).group(1)
    path = link.removeprefix(settings.SITE_URL)
    referral = Referral.objects.get(patient_last_name="Bélanger")
    assert referral.status == Referral.Status.BOOKED and referral.appointment_at
    client = Client()
    assert "Bélanger" not in client.get(path).content.decode()
    mail.outbox.clear()
    client.post(path, {"send": "1"})
    (email,) = mail.outbox
    assert email.to == ["o.haddad@walkin.example"]
    code = re.search(r"code is (\d{6})", email.body).group(1)
    client.post(path, {"code": code})
    page = client.get(path).content.decode()
    assert "Bélanger, François" in page and "We will book a clinic visit" in page
    assert "Booked: appointment on" in page


# --- never on a database that is not the demo's own ---------------------------------------------


@pytest.fixture
def production_database():
    """A PostgreSQL database standing in for production's (empty), on the tests' server; its
    URL, and a function counting its tables. Dropped afterwards."""
    server = connection.settings_dict
    name = f"{server['NAME'].removeprefix('test_')}_production"
    admin = psycopg.connect(
        host=server["HOST"], port=server["PORT"], user=server["USER"], dbname="postgres",
        autocommit=True,
    )  # fmt: skip
    with admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        url = f"postgres://{server['USER']}@{server['HOST']}:{server['PORT']}/{name}"

        def tables() -> int:
            with psycopg.connect(url) as production:
                query = "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
                return production.execute(query).fetchone()[0]

        yield url, tables
        admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def test_manage_py_with_a_production_env_neither_seeds_nor_migrates_it(production_database):
    """The .env of the report: DATABASE_URL, SECRET_KEY and ALLOWED_HOSTS, no profile named, so
    manage.py's default, the demo profile."""
    url, tables = production_database
    production_env = {
        "DATABASE_URL": url,
        "SECRET_KEY": PRODUCTION_ENV["SECRET_KEY"],
        "ALLOWED_HOSTS": "ereferral.example",
    }
    for command in (["seed_demo"], ["migrate"], ["runserver", "--noreload", "127.0.0.1:0"]):
        result = manage(*command, env=production_env)
        assert result.returncode == 1, (command, result.stderr)
        assert (
            "The demo profile (manage.py's default when DJANGO_SETTINGS_MODULE is not set) "
            "runs only on its own SQLite database"
        ) in result.stderr
        assert "DJANGO_SETTINGS_MODULE=config.settings.production" in result.stderr
        assert "Demo data is ready" not in result.stdout
    assert tables() == 0  # nothing was written


def test_seed_demo_refuses_a_database_that_is_not_a_test_runs_under_the_test_profile(
    production_database,
):
    url, tables = production_database
    result = manage(
        "seed_demo",
        env={"DJANGO_SETTINGS_MODULE": "config.settings.test", "TEST_DATABASE_URL": url},
    )
    assert result.returncode == 1, result.stderr
    name = url.rsplit("/", 1)[1]
    assert f"seed_demo refuses to run on this PostgreSQL database ('{name}')" in result.stderr
    assert "only on the demo's own SQLite database" in result.stderr
    assert "superuser" in result.stderr and "published" in result.stderr
    assert tables() == 0


def test_seed_demo_refuses_a_database_not_made_by_the_test_runner(db, monkeypatch):
    monkeypatch.setitem(connection.settings_dict, "NAME", "ereferral")
    refused = r"refuses to run on this PostgreSQL database \('ereferral'\)"
    with pytest.raises(CommandError, match=refused):
        call_command("seed_demo", stdout=io.StringIO())
    assert not User.objects.exists()
