"""Fixtures for the Django-independent HRM core: the schema, sample reports, a loopback SFTP server.

No database here: these tests run with or without pytest-django.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from hrm.report_xml import (
    Report,
    ReportFile,
    ReportPatient,
    ReportPerson,
    ReportRecipient,
    ReportText,
)
from hrm.transports import SftpTimeouts, SftpTransport
from sandbox.sftp_server import SandboxSftpServer

# The repository and ../shared sit side by side (here and in CI); the schema is never copied in.
SCHEMA_PATH = (
    Path(__file__).resolve().parents[2].parent
    / "shared/hrm-schema/report_manager_v1.1.2/report_manager.xsd"
)
OLD_SCHEMA_PATH = SCHEMA_PATH.parents[1] / "ontariomd_hrm.xsd"

# Short enough that a hang fails a test quickly, long enough for a loaded CI machine.
TEST_TIMEOUTS = SftpTimeouts(connect=5, banner=5, auth=5, channel=10)

PDF_BYTES = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture(scope="session")
def hrm_schema() -> Path:
    assert SCHEMA_PATH.is_file(), f"HRM schema v1.1.2 not found at {SCHEMA_PATH}"
    return SCHEMA_PATH


def report_sample(**changes: Any) -> Report:
    """A valid text report (the example of HRM-FORMAT.md section 3.4); ``changes`` replace fields.
    ``patient=``/``author=``/``recipient=`` may be dicts of field changes."""
    report = Report(
        patient=ReportPatient(
            first_name="Hélène",
            last_name="Tremblay",
            date_of_birth=date(1980, 2, 3),
            sex="F",
            health_card_number="1234567890",
            health_card_version="AB",
            health_card_province="ON",
        ),
        author=ReportPerson(first_name="Ann", last_name="Lee"),
        recipient=ReportRecipient(professional_id="D12345", first_name="Raj", last_name="Patel"),
        event_datetime=datetime(2024, 1, 5, 14, 30, tzinfo=UTC),  # 09:30 in Toronto
        sending_facility="1234",
        sending_facility_report_number="MSG-42-TEXT",
        transaction_id="MSG-42-TEXT-D12345",
        content=ReportText("Seen today.\nPlan: follow up in 6 weeks."),
    )
    for name in ("patient", "author", "recipient"):
        if isinstance(changes.get(name), dict):
            changes[name] = dataclasses.replace(getattr(report, name), **changes[name])
    return dataclasses.replace(report, **changes)


def pdf_report_sample(**changes: Any) -> Report:
    changes.setdefault("content", ReportFile(PDF_BYTES, ".pdf"))
    changes.setdefault("sending_facility_report_number", "MSG-42-FILE-1")
    changes.setdefault("transaction_id", "MSG-42-FILE-1-D12345")
    return report_sample(**changes)


@pytest.fixture(scope="session")
def make_report() -> Callable[..., Report]:
    """``make_report(**changes)``: a valid text report (session-scoped so hypothesis tests can
    use it)."""
    return report_sample


@pytest.fixture(scope="session")
def make_pdf_report() -> Callable[..., Report]:
    """``make_pdf_report(**changes)``: a valid PDF report."""
    return pdf_report_sample


@pytest.fixture(scope="session")
def old_hrm_schema() -> Path:
    assert OLD_SCHEMA_PATH.is_file(), f"old HRM schema not found at {OLD_SCHEMA_PATH}"
    return OLD_SCHEMA_PATH


@pytest.fixture
def sftp_server(tmp_path: Path) -> Iterator[SandboxSftpServer]:
    with SandboxSftpServer(tmp_path / "sftp") as server:
        yield server


def transport_for(server: SandboxSftpServer, **overrides: Any) -> SftpTransport:
    login = server.login
    settings = {
        "host": login.host,
        "port": login.port,
        "user": login.user,
        "key_file": login.key_file,
        "known_hosts_file": login.known_hosts_file,
        "remote_dir": login.remote_dir,
        "timeouts": TEST_TIMEOUTS,
    }
    settings.update(overrides)
    return SftpTransport(**settings)


@pytest.fixture
def make_transport(sftp_server: SandboxSftpServer) -> Iterator[Callable[..., SftpTransport]]:
    """``make_transport(**overrides)``: an SftpTransport for the sandbox server, closed after the
    test."""
    made: list[SftpTransport] = []

    def make(**overrides: Any) -> SftpTransport:
        made.append(transport_for(sftp_server, **overrides))
        return made[-1]

    yield make
    for transport in made:
        transport.close()


@pytest.fixture
def sftp_transport(make_transport: Callable[..., SftpTransport]) -> SftpTransport:
    return make_transport()
