"""The sandbox's log (var/hrm-sandbox.log in the demo) names no patient: logs carry no patient
data, the sandbox's included. What it filed, and why it refused a file, is on its pages."""

import io
import logging

from django.core.management import call_command

from hrm.crypto import report_encrypt
from hrm.services.reports import report_xml_ensure
from hrm.transports import FolderTransport, remote_name_for
from sandbox.models import EmrRetrievalLog
from sandbox.sftp_server import SandboxSftpServer

from ..delivery_fixtures import AES_KEY
from .test_round_trip import post_letter

# The personas' patient (tests/factories.py), and a birth date the schema rejects, quoting it.
PATIENT_DATA = ("Tremblay", "Hélène", "Helene", "9876543217", "1961-04-18", "1961-18-04")


def test_the_sandbox_log_names_no_patient_when_it_files_or_refuses(
    live, settings, tmp_path, caplog
):
    settings.HRM_SANDBOX_DIR = tmp_path / "sandbox"
    settings.HRM_SANDBOX_PORT = 0
    settings.HRM_AES_KEY = AES_KEY
    settings.SITE_URL = "http://127.0.0.1:8601"
    message = post_letter(live)
    waiting = FolderTransport(SandboxSftpServer(tmp_path / "sandbox" / "sftp").inbox)
    reports = list(message.hrm_reports.filter(deliver_to_user_id="D12345").order_by("id"))
    for report in reports:
        name = remote_name_for(report.transaction_id)
        waiting.upload(name, report_encrypt(report_xml_ensure(report), AES_KEY))
    xml = report_xml_ensure(reports[0])
    assert xml.count(b"1961-04-18") == 1  # the patient's date of birth
    broken = xml.replace(b"1961-04-18", b"1961-18-04")
    waiting.upload("broken-birth-date.xml.enc", report_encrypt(broken, AES_KEY))
    out, err = io.StringIO(), io.StringIO()

    with caplog.at_level(logging.DEBUG):
        call_command("hrm_sandbox", "--once", stdout=out, stderr=err)

    log = out.getvalue() + err.getvalue() + caplog.text
    for value in PATIENT_DATA:
        assert value not in log, value
    assert log.count("Filed ") == 2 and "to Alice Nguyen (D12345), linked to chart #" in log
    assert (
        "Refused broken-birth-date.xml.enc: not filed; the reason is on "
        "http://127.0.0.1:8601/sandbox/emr/log/" in log
    )
    # The reason is kept where support reads it: the retrieval log (the database, its page).
    refused = EmrRetrievalLog.objects.get(file_name="broken-birth-date.xml.enc")
    assert refused.outcome == "refused" and "1961-18-04" in refused.error
