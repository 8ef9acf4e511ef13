"""A message travels from the referral into the sandbox EMR: built, encrypted and uploaded by the
product's delivery, through a real SFTP server on loopback, then polled, decrypted, validated and
filed by the sandbox EMR. Also the ``hrm_sandbox`` command, in process and as a real process.

They run under the default profile, Open-O, the strictest receiver. The second recipient's
files are the same reports (they differ only in TransactionInformation), so Open-O, like OSCAR,
routes the same documents to them rather than filing them again.
"""

import io
import os
import shlex
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.db import connection

from hrm.delivery.connections import transport_close, transport_get
from hrm.delivery.services.outbox import report_deliver
from hrm.delivery.services.recording import Outcome
from hrm.delivery.transports import remote_name_for
from hrm.delivery.transports.folder import FolderTransport
from hrm.models import HrmReport
from hrm.reports.crypto import report_encrypt
from hrm.reports.services import report_xml_ensure
from hrm.reports.text import emr_text_prepare
from referrals import services
from sandbox.models import EmrDocument, EmrProvider, EmrRetrievalLog
from sandbox.selectors import emr_inbox_documents
from sandbox.services.charts import sandbox_charts_sync
from sandbox.services.polling import sandbox_poll
from sandbox.sftp_server import SandboxSftpServer

from ..delivery_fixtures import AES_KEY, delivered_files, wait_for
from ..factories import pdf_upload

ROOT = Path(__file__).resolve().parents[2]
LETTER = ["Consultation letter", "Impression: stable angina", "Plan: stress test"]
TEXT = "Seen today.\nPlan: stress test <b>&</b> follow-up."
PROFILE = "open-o"


def post_letter(live):
    """The specialist posts text and a PDF; the product creates one outbox row per part and live
    stakeholder (the referrer's practice and the central intake)."""
    return services.message_post(
        referral=live.referral,
        author=live.world.specialist,
        text=TEXT,
        files=[pdf_upload("Consultation letter.pdf", LETTER)],
    )


def deliver_all(message):
    transport = transport_get()
    return [report_deliver(r.pk, transport).outcome for r in message.hrm_reports.order_by("id")]


def test_text_and_pdf_arrive_in_each_live_stakeholders_inbox_as_two_reports(live, hrm_sftp):
    message = post_letter(live)
    assert deliver_all(message) == [Outcome.SENT] * 4
    assert len(delivered_files(hrm_sftp)) == 4
    sandbox_charts_sync()

    result = sandbox_poll(hrm_sftp.login, AES_KEY)

    # The first recipient's two files are filed; the second's are the same reports (they differ
    # only in TransactionInformation), so OSCAR routes the same two documents to them.
    assert (result.filed, result.routed, result.duplicate, result.refused) == (2, 2, 0, 0)
    assert list(hrm_sftp.inbox.iterdir()) == []  # every file consumed and deleted
    pdf = bytes(message.attachments.get().file.open("rb").read())
    for professional_id in ("D12345", "N1234567"):
        provider = EmrProvider.objects.get(professional_id=professional_id)
        documents = {d.format: d for d in emr_inbox_documents(provider)}
        assert sorted(documents) == ["Binary", "Text"], professional_id
        text, letter = documents["Text"], documents["Binary"]
        assert text.text == emr_text_prepare(TEXT).text
        assert text.text_markup == ""  # guarded: nothing OSCAR would read as markup
        letter = EmrDocument.objects.get(pk=letter.pk)
        assert bytes(letter.file_data) == pdf and letter.file_extension == ".pdf"
        # Each part carries its own EventDateTime: neither hides the other.
        assert not text.is_hidden and not letter.is_hidden
        for document in (text, letter):
            chart = document.patient
            assert chart is not None, "the report must be linked to the patient's chart"
            assert (chart.last_name, chart.first_name) == ("Tremblay", "Hélène")
            assert chart.health_card_number == live.referral.patient_health_card_number
            assert document.author_name == "Lee François"  # as Open-O shows ^Lee^François^^^^
            assert "'^Lee^François^^^^'" in document.author_as_written
            assert document.report_class == "Consultant Report"
            assert document.emr_profile == PROFILE
    # What the EMR shows as the Transaction ID is exactly what the product shows.
    sent = set(HrmReport.objects.filter(message=message).values_list("transaction_id", flat=True))
    logged = set(EmrRetrievalLog.objects.values_list("message_unique_id", flat=True))
    assert logged == sent
    filed = set(EmrDocument.objects.values_list("message_unique_id", flat=True))
    assert filed == {
        r.transaction_id for r in message.hrm_reports.filter(deliver_to_user_id="D12345")
    }
    assert not EmrDocument.objects.filter(provider__professional_id="D67890").exists()


def test_a_file_uploaded_again_after_it_was_filed_is_counted_not_filed_twice(live, hrm_sftp):
    message = post_letter(live)
    deliver_all(message)
    sandbox_charts_sync()
    sandbox_poll(hrm_sftp.login, AES_KEY)
    report = message.hrm_reports.get(attachment__isnull=False, deliver_to_user_id="D12345")
    # The same file again, as after a lost acknowledgement: same name, same MessageUniqueID.
    transport_get().upload(
        remote_name_for(report.transaction_id), report_encrypt(bytes(report.xml), AES_KEY)
    )

    result = sandbox_poll(hrm_sftp.login, AES_KEY)

    assert (result.filed, result.duplicate) == (0, 1)
    assert EmrDocument.objects.count() == 2  # the other recipient's reports were routed
    document = EmrDocument.objects.get(message_unique_id=report.transaction_id)
    assert document.duplicate_count == 1
    assert list(hrm_sftp.inbox.iterdir()) == []


def test_a_refused_recipient_fails_permanently_and_the_others_are_filed(live, hrm_sftp):
    hrm_sftp.refuse_deliver_to("N1234567")
    message = post_letter(live)

    outcomes = deliver_all(message)

    by_recipient = {}
    for report in message.hrm_reports.all():
        by_recipient.setdefault(report.deliver_to_user_id, set()).add(report.status)
        if report.deliver_to_user_id == "N1234567":
            assert "permission" in report.last_error and "not retrying" in report.last_error
            assert report.attempts == 1
    Status = HrmReport.Status
    assert by_recipient == {"D12345": {Status.SENT}, "N1234567": {Status.FAILED}}
    assert sorted(outcomes) == sorted([Outcome.SENT] * 2 + [Outcome.FAILED] * 2)
    assert all(name.endswith("-D12345.xml.enc") for name in delivered_files(hrm_sftp))
    sandbox_charts_sync()
    assert sandbox_poll(hrm_sftp.login, AES_KEY).filed == 2
    assert EmrDocument.objects.filter(provider__professional_id="D12345").count() == 2
    assert not EmrDocument.objects.filter(provider__professional_id="N1234567").exists()


# --- The command ----------------------------------------------------------------------------------


def env_file_values(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            [assignment] = shlex.split(line)  # what a shell would see
            name, _, value = assignment.partition("=")
            values[name] = value
    return values


def test_hrm_sandbox_once_writes_the_env_file_and_files_what_is_waiting(live, settings, tmp_path):
    settings.HRM_SANDBOX_DIR = tmp_path / "sandbox"
    settings.HRM_SANDBOX_PORT = 0
    settings.HRM_AES_KEY = AES_KEY
    # Two reports already waiting in the sandbox's folder, from an earlier run.
    message = post_letter(live)
    waiting = SandboxSftpServer(tmp_path / "sandbox" / "sftp").inbox
    for report in message.hrm_reports.filter(deliver_to_user_id="D12345"):
        FolderTransport(waiting).upload(
            remote_name_for(report.transaction_id),
            report_encrypt(report_xml_ensure(report), AES_KEY),
        )
    out = io.StringIO()

    call_command("hrm_sandbox", "--once", "--emr-profile", PROFILE, stdout=out)

    output = out.getvalue()
    env_file = tmp_path / "sandbox" / "env"
    values = env_file_values(env_file)
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600  # it holds the AES key
    assert values["HRM_TRANSPORT"] == "sftp" and values["HRM_SFTP_HOST"] == "127.0.0.1"
    assert int(values["HRM_SFTP_PORT"]) > 0
    assert values["HRM_SFTP_USER"] == "hrm" and values["HRM_SFTP_DIR"] == "/inbox"
    for name in ("HRM_SFTP_KEY_FILE", "HRM_SFTP_KNOWN_HOSTS"):
        assert Path(values[name]).is_absolute() and Path(values[name]).is_file()
    assert values["HRM_AES_KEY"] == AES_KEY and values["HRM_SANDBOX_ENABLED"] == "true"
    for name in ("HRM_TRANSPORT", "HRM_SFTP_PORT", "HRM_SFTP_KEY_FILE", "HRM_SFTP_KNOWN_HOSTS"):
        assert f"{name}=" in output
    assert "Filed " in output and "Poll: 2 filed, 0 duplicate(s), 0 refused." in output
    assert "HRM sandbox stopped." in output
    assert "The sandbox EMR files reports by Open-O's rules." in output
    assert EmrDocument.objects.filter(provider__professional_id="D12345").count() == 2
    assert set(EmrRetrievalLog.objects.values_list("emr_profile", flat=True)) == {PROFILE}
    assert list(waiting.iterdir()) == []


@pytest.mark.django_db(transaction=True)
def test_hrm_sandbox_as_a_process_refuses_a_recipient_files_the_rest_and_stops_on_sigterm(
    live, broker, settings, tmp_path
):
    """The command as the demo runs it: its own process, its own key (no HRM_AES_KEY given),
    the product pointed at it by the env file it writes, stopped by SIGTERM."""
    workdir = tmp_path / "sandbox"
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "TEST_DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "HRM_SANDBOX_DIR": str(workdir),
        "HRM_SANDBOX_PORT": "0",
        "HRM_SANDBOX_POLL_SECONDS": "0.2",
        "HRM_AES_KEY": "",
        "HRM_SCHEMA": str(django_settings.HRM_SCHEMA),
    }
    log = tmp_path / "sandbox.log"
    with open(log, "w") as output:
        process = subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "hrm_sandbox",
                "--refuse-deliver-to",
                "N1234567",
                "--emr-profile",
                PROFILE,
            ],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(lambda: (workdir / "env").exists(), timeout=30, message="the env file")
        values = env_file_values(workdir / "env")
        settings.HRM_TRANSPORT = values["HRM_TRANSPORT"]
        settings.HRM_SFTP_HOST = values["HRM_SFTP_HOST"]
        settings.HRM_SFTP_PORT = int(values["HRM_SFTP_PORT"])
        settings.HRM_SFTP_USER = values["HRM_SFTP_USER"]
        settings.HRM_SFTP_KEY_FILE = values["HRM_SFTP_KEY_FILE"]
        settings.HRM_SFTP_KNOWN_HOSTS = values["HRM_SFTP_KNOWN_HOSTS"]
        settings.HRM_SFTP_DIR = values["HRM_SFTP_DIR"]
        settings.HRM_AES_KEY = values["HRM_AES_KEY"]
        assert values["HRM_AES_KEY"] == (workdir / "aes_key").read_text().strip()
        message = post_letter(live)

        deliver_all(message)

        failed = message.hrm_reports.filter(status=HrmReport.Status.FAILED)
        assert set(failed.values_list("deliver_to_user_id", flat=True)) == {"N1234567"}
        assert failed.count() == 2 and all("permission" in r.last_error for r in failed)
        wait_for(
            lambda: EmrDocument.objects.filter(provider__professional_id="D12345").count() == 2,
            timeout=30,
            message="the sandbox EMR to file Dr. Nguyen's two reports",
        )
        assert not EmrRetrievalLog.objects.filter(outcome="refused").exists()
        assert EmrDocument.objects.filter(patient__last_name="Tremblay").count() == 2
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(30)
        transport_close()
    text = log.read_text()
    assert code == 0, text
    assert "Refusing uploads for DeliverToUserID N1234567." in text
    assert "The sandbox EMR files reports by Open-O's rules." in text
    assert "HRM sandbox stopped." in text
    assert "poll failed" not in text
