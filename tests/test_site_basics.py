"""What a newcomer meets first: where emails go, the address links point at, the 404 page and the
favicon (seed_demo refusing a production database: tests/sandbox/test_seed_demo.py)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core import mail
from django.core.exceptions import ImproperlyConfigured

from config.email_url import email_url_config
from referrals import services

ROOT = Path(__file__).resolve().parents[1]
FILE_BACKEND = "django.core.mail.backends.filebased.EmailBackend"


def manage(*args, env: dict[str, str], cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """``manage.py`` in a process of its own, with only ``env`` on top of a bare environment (so
    nothing from the test run, e.g. DJANGO_SETTINGS_MODULE or EMAIL_URL, leaks in)."""
    bare = {name: os.environ[name] for name in ("PATH", "HOME", "LANG") if name in os.environ}
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=cwd,
        env={**bare, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def settings_value(name: str, env: dict[str, str]) -> str:
    result = manage(
        "shell", "-v", "0", "-c", f"from django.conf import settings; print(settings.{name})",
        env={"DJANGO_SETTINGS_MODULE": "config.settings.demo", **env},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


# --- EMAIL_URL --------------------------------------------------------------------------------


def test_a_filemail_url_with_an_absolute_path_keeps_its_leading_slash(tmp_path):
    config = email_url_config("filemail:///srv/ereferral/mail", base_dir=tmp_path)
    assert config["EMAIL_BACKEND"] == FILE_BACKEND
    assert config["EMAIL_FILE_PATH"] == "/srv/ereferral/mail"


def test_a_filemail_url_with_a_relative_path_is_in_the_repository(tmp_path):
    config = email_url_config("filemail://var/mail", base_dir=tmp_path)
    assert config["EMAIL_FILE_PATH"] == str(tmp_path / "var" / "mail")
    assert config["EMAIL_HOST"] is None  # "var" is a folder, not a mail host


def test_other_email_urls_are_read_as_django_environ_reads_them(tmp_path):
    config = email_url_config("smtp+tls://user:secret@smtp.example:587", base_dir=tmp_path)
    assert (config["EMAIL_HOST"], config["EMAIL_PORT"]) == ("smtp.example", 587)
    assert (config["EMAIL_HOST_USER"], config["EMAIL_HOST_PASSWORD"]) == ("user", "secret")
    assert config["EMAIL_USE_TLS"] is True


def test_a_filemail_url_without_a_folder_is_refused_with_an_example(tmp_path):
    with pytest.raises(ImproperlyConfigured, match="names no folder.*filemail:///srv/mail"):
        email_url_config("filemail://", base_dir=tmp_path)


def test_emails_land_in_the_folder_email_url_names_whatever_the_working_directory(tmp_path):
    """What the demo does (EMAIL_URL=filemail://$PWD/var/mail), from another folder."""
    folder = tmp_path / "var" / "mail"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    result = manage(
        "sendtestemail", "newcomer@example.org",
        env={"DJANGO_SETTINGS_MODULE": "config.settings.demo", "EMAIL_URL": f"filemail://{folder}"},
        cwd=elsewhere,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    [sent] = list(folder.glob("*.log"))
    assert "To: newcomer@example.org" in sent.read_text()
    assert list(elsewhere.iterdir()) == []


# --- Links ------------------------------------------------------------------------------------


def test_links_point_at_the_port_the_server_is_given():
    assert settings_value("SITE_URL", {"PORT": "8601"}) == "http://127.0.0.1:8601"
    assert settings_value("SITE_URL", {}) == "http://127.0.0.1:8000"


def test_site_url_wins_over_the_port_and_loses_a_trailing_slash():
    value = settings_value("SITE_URL", {"PORT": "8601", "SITE_URL": "https://ereferral.example/"})
    assert value == "https://ereferral.example"


def test_notification_emails_link_to_site_url(
    world, referral, settings, django_capture_on_commit_callbacks
):
    settings.SITE_URL = "http://127.0.0.1:8601"
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.message_post(referral=referral, author=world.specialist, text="Booked.")
    assert mail.outbox
    for message in mail.outbox:
        assert f"http://127.0.0.1:8601/referrals/{referral.pk}/" in message.body
        assert ":8000" not in message.body


# --- The 404 page and the favicon -------------------------------------------------------------


def test_a_strangers_404_is_the_products_own_page(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    page = response.content.decode()
    assert "<h1>Page not found</h1>" in page
    assert 'href="/static/css/app.css"' in page and 'class="brand"' in page
    assert 'href="/login/"' in page
    assert "URLconf" not in page and "referrals/" not in page.split("<main", 1)[1]


def test_a_referral_not_shared_with_you_looks_like_no_page_at_all(world, referral, client_for):
    response = client_for(world.stranger).get(f"/referrals/{referral.pk}/")
    assert response.status_code == 404
    page = response.content.decode()
    assert "<h1>Page not found</h1>" in page and "Go to your referrals" in page
    assert "Tremblay" not in page


def test_the_favicon_is_served_at_the_root_and_linked_from_every_page(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/x-icon"
    icon = b"".join(response.streaming_content)
    assert icon[:4] == b"\x00\x00\x01\x00"  # an ICO file
    page = client.get("/login/").content.decode()
    assert '<link rel="icon" href="/favicon.ico"' in page
    assert 'href="/static/favicon.svg" type="image/svg+xml"' in page
    assert (ROOT / "static" / "favicon.svg").read_text().startswith("<svg")
