"""The HRM files of a message: one per (message part, recipient), validated against the schema
and the receivers' rules, stored byte for byte so every retry sends the same file."""

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg
from django.conf import settings
from django.db import connection, connections, router
from django.db.models import Max, Q
from psycopg import sql

from directory.models import Listing
from hrm.models import HrmReport
from hrm.reports.build import report_build
from hrm.reports.text import emr_text_prepare
from hrm.reports.types import (
    Report,
    ReportFile,
    ReportPatient,
    ReportPerson,
    ReportRecipient,
    ReportText,
)
from hrm.reports.validation import report_validate
from referrals.models import Attachment, Message, Referral


@dataclass(frozen=True)
class _Part:
    attachment: Attachment | None

    @property
    def key(self) -> str:
        return "T" if self.attachment is None else f"A{self.attachment.pk}"


def report_number_for(message: Message, part_key: str) -> str:
    """``SendingFacilityReportNumber``: one per message part, the same for every recipient.

    It starts with the referral's random reference so a number is never reused, even by another
    installation or after a database restore: OSCAR would hide an older report that shares it."""
    return f"{message.referral.reference.hex}-{message.pk}-{part_key}"


def transaction_id_for(report_number: str, deliver_to_user_id: str) -> str:
    """``MessageUniqueID``, shown to users as the Transaction ID: unique per file, and the same
    for every retry and re-send of that file."""
    return f"{report_number}-{deliver_to_user_id}"


def _patient(message: Message) -> ReportPatient:
    referral = message.referral
    return ReportPatient(
        first_name=referral.patient_first_name,
        last_name=referral.patient_last_name,
        date_of_birth=referral.patient_birth_date,
        sex=referral.patient_sex,
        health_card_number=referral.patient_health_card_number,
        health_card_version=referral.patient_health_card_version,
        health_card_province=referral.patient_province,
    )


class AttachmentMissing(Exception):
    """The attachment's file is no longer in storage."""


def attachment_text(data: bytes) -> str:
    """A plain-text file's text: UTF-8 (with or without a byte-order mark), UTF-16 with one, else
    Windows-1252, the other encoding Ontario's Windows workstations write."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _content(part: _Part, message: Message) -> ReportText | ReportFile:
    attachment = part.attachment
    if attachment is None:
        return ReportText(message.text)
    try:
        with attachment.file.open("rb") as handle:
            data = handle.read()
    except FileNotFoundError as missing:
        raise AttachmentMissing(attachment.file.name) from missing
    if attachment.content_type == Attachment.Kind.TEXT:
        # HRM carries no .txt file (Open-O refuses a binary report named .txt): a plain-text
        # attachment travels as a text report, which every EMR shows inline. The heading says
        # where the text came from, and keeps the report from ever being empty.
        text = emr_text_prepare(attachment_text(data)).text
        return ReportText(f"Attached file: {attachment.original_name}\n\n{text}")
    return ReportFile(data=data, file_extension=attachment.extension)


def message_parts(message: Message, attachments: Iterable[Attachment] | None = None) -> list[_Part]:
    """The typed text (when there is any) and each attachment: each becomes its own report, as
    HRM carries either text or one file per report. ``attachments``: the message's attachments,
    when the caller has them."""
    if attachments is None:
        attachments = message.attachments.all()
    parts = [_Part(None)] if message.text else []
    return parts + [_Part(a) for a in sorted(attachments, key=lambda attachment: attachment.pk)]


def _patient_keys(referral: Referral) -> tuple[str, str]:
    return (
        f"card:{referral.patient_health_card_number}",
        f"name:{referral.patient_last_name.casefold()}|{referral.patient_first_name.casefold()}",
    )


def _patient_lock(referral: Referral) -> None:
    """Serialise, per patient, the choice of report times (``_event_times``) until the caller's
    transaction ends: two messages for one patient may be sent at once from two referrals.
    (SQLite, the demo's database, runs one writing transaction at a time anyway.)"""
    if connection.vendor == "postgresql":
        card, name = _patient_keys(referral)  # always in one order: no deadlock
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0)), "
                "pg_advisory_xact_lock(hashtextextended(%s, 0))",
                [f"hrm-event:{card}", f"hrm-event:{name}"],
            )


def _event_times(message: Message, parts: list[_Part]) -> dict[str, datetime]:
    """One ``EventDateTime`` per message part: when the message was sent, then a second later for
    each further part, and always after the latest time already used by a report for this
    patient (same health card, or same legal name) to anyone. OSCAR and Open-O hide a report
    that shares its date with another for a patient of the same legal name, whichever clinician
    of the EMR it is for, as a "changed version" of it (HRM-FORMAT.md 11.4). Every recipient of
    a part gets the same time, so the files of one letter still differ only in
    TransactionInformation."""
    referral = message.referral
    base = message.created_at.replace(microsecond=0)
    same_card = Q(message__referral__patient_health_card_number=referral.patient_health_card_number)
    same_name = Q(
        message__referral__patient_last_name__iexact=referral.patient_last_name,
        message__referral__patient_first_name__iexact=referral.patient_first_name,
    )
    latest = HrmReport.objects.filter(same_card | same_name, event_at__gte=base).aggregate(
        latest=Max("event_at")
    )["latest"]
    first = base if latest is None else latest + timedelta(seconds=1)
    return {part.key: first + timedelta(seconds=index) for index, part in enumerate(parts)}


def message_reports_create(
    *,
    message: Message,
    recipients: Iterable[Listing],
    attachments: Iterable[Attachment] | None = None,
) -> list[HrmReport]:
    """Create the outbox rows for every part of ``message`` and each recipient listing, in the
    caller's transaction. The files themselves are built by ``report_xml_ensure`` in the worker,
    so pressing Send costs the clinician no XML work."""
    recipients = list(recipients)
    parts = message_parts(message, attachments)
    _patient_lock(message.referral)
    times = _event_times(message, parts)
    rows = []
    for part in parts:
        report_number = report_number_for(message, part.key)
        for listing in recipients:
            rows.append(
                HrmReport(
                    message=message,
                    attachment=part.attachment,
                    recipient=listing,
                    deliver_to_user_id=listing.clinician_professional_id,
                    recipient_name=listing.clinician_name,
                    transaction_id=transaction_id_for(
                        report_number, listing.clinician_professional_id
                    ),
                    report_number=report_number,
                    event_at=times[part.key],
                    xml=b"",
                )
            )
    return HrmReport.objects.bulk_create(rows)


def report_build_for(report: HrmReport) -> Report:
    """The report ``report`` stands for, from its message, referral, part and recipient."""
    message = report.message
    listing = report.recipient
    part = _Part(report.attachment)
    return Report(
        patient=_patient(message),
        author=ReportPerson(
            first_name=message.author.first_name, last_name=message.author.last_name
        ),
        recipient=ReportRecipient(
            professional_id=report.deliver_to_user_id,
            first_name=listing.clinician_first_name,
            last_name=listing.clinician_surname,
        ),
        event_datetime=report.event_at or message.created_at,
        sending_facility=settings.HRM_SENDING_FACILITY,
        sending_facility_report_number=report.report_number,
        transaction_id=report.transaction_id,
        content=_content(part, message),
        report_class=settings.HRM_REPORT_CLASS,
        subclass=settings.HRM_REPORT_SUBCLASS,
    )


def report_xml_ensure(report: HrmReport) -> bytes:
    """The exact bytes of ``report``'s file: built and validated once, then stored and reused by
    every retry and re-send. Raises ``ReportInvalid`` (with the problems in plain words) for a
    file an EMR would drop or misfile; such a file is never stored or uploaded."""
    if report.xml:  # loaded with the row (or fetched now if the field was deferred)
        return bytes(report.xml)
    xml = report_build(report_build_for(report))
    report_validate(xml, settings.HRM_SCHEMA)
    # Only the first build is kept: if a concurrent builder of the same row got there first,
    # its bytes are the ones every attempt uploads.
    if not _xml_store_first(report.pk, xml):
        xml = bytes(HrmReport.objects.values_list("xml", flat=True).get(pk=report.pk))
    report.xml = xml
    return xml


def _xml_store_first(report_id: int, xml: bytes) -> bool:
    """Store ``xml`` as the row's file unless it has one already; True when this call stored it.

    On PostgreSQL the bytes travel as a binary parameter. Django's psycopg backend binds
    parameters on the client, which turns a bytea into an escaped hex literal twice its size for
    the server to parse: 3.6 ms to store a 260 KB file that way against 1.0 ms in binary
    (``bench/hrm_store.py``), on every report's path."""
    connection = connections[router.db_for_write(HrmReport)]
    if connection.vendor != "postgresql":
        return bool(HrmReport.objects.filter(pk=report_id, xml=b"").update(xml=xml))
    connection.validate_no_broken_transaction()
    with connection.wrap_database_errors:
        connection.ensure_connection()
        with psycopg.Cursor(connection.connection) as cursor:
            cursor.execute(_xml_store_statement(), [xml, report_id])
            return cursor.rowcount == 1


@functools.cache
def _xml_store_statement() -> sql.Composed:
    meta = HrmReport._meta
    xml_column = sql.Identifier(meta.get_field("xml").column)
    return sql.SQL("UPDATE {table} SET {xml} = %b WHERE {pk} = %s AND {xml} = ''::bytea").format(
        table=sql.Identifier(meta.db_table), xml=xml_column, pk=sql.Identifier(meta.pk.column)
    )
