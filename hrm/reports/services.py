"""The HRM files of a message: one per (message part, recipient), validated against the schema
and the receivers' rules, stored byte for byte so every retry sends the same file."""

import functools
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max, Q
from psycopg import sql

from directory.models import Listing
from hrm.error_classes import ErrorClass
from hrm.models import HrmReport
from hrm.reports.build import report_file_build
from hrm.reports.reading import file_size_check
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
from referrals.addendum import addendum_letter_pdf
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

    error_class = ErrorClass.MISSING_FILE


def attachment_text(data: bytes) -> str:
    """A plain-text file's text: UTF-8 (with or without a byte-order mark), UTF-16 with one, else
    Windows-1252, the other encoding Ontario's Windows workstations write."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _text_as_letter(message: Message) -> bool:
    """The author's site sends typed text as the addendum letter (its setting, in the admin;
    a worker's claim loads it with the report)."""
    listing = message.author_listing
    return listing is not None and listing.site.text_as_addendum_letter


def _content(part: _Part, message: Message) -> ReportText | ReportFile:
    attachment = part.attachment
    if attachment is None:
        if _text_as_letter(message):
            # Built once, with the file: every retry and re-send uploads the same letter.
            return ReportFile(data=addendum_letter_pdf(message), file_extension=".pdf")
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


def patient_keys(referral: Referral) -> tuple[str, str]:
    """The two keys Send tells a patient by: the health card number (its letters and digits,
    upper case) and the legal name without case. Reports for either are one patient's to OSCAR
    and Open-O (``_reports_insert_dated``)."""
    card = "".join(ch for ch in referral.patient_health_card_number if ch.isalnum()).upper()
    last, first = referral.patient_last_name.casefold(), referral.patient_first_name.casefold()
    return f"card:{card}", f"name:{last}|{first}"


def message_reports_create(
    *,
    message: Message,
    recipients: Iterable[Listing],
    attachments: Iterable[Attachment] | None = None,
) -> list[HrmReport]:
    """Create the outbox rows for every part of ``message`` and each recipient listing, in the
    caller's transaction, each dated its part's ``EventDateTime`` (``_reports_insert_dated``).
    The files themselves are built by ``report_xml_ensure`` in the worker, so pressing Send
    costs the clinician no XML work."""
    recipients = list(recipients)
    rows, offsets = [], []
    for index, part in enumerate(message_parts(message, attachments)):
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
                    xml=b"",
                )
            )
            offsets.append(index)
    return _reports_insert_dated(message, rows, offsets)


def _reports_insert_dated(
    message: Message, rows: list[HrmReport], offsets: list[int], *, base: datetime | None = None
) -> list[HrmReport]:
    """Insert ``rows``, a message's reports, with one ``EventDateTime`` per message part: when
    the message was sent, then a second later for each further part (``offsets``: the row's
    part), and always after the latest time already used by a report for this patient (same
    health card, or same legal name, whatever the case) to anyone. OSCAR and Open-O hide a
    report that shares its date with another for a patient of the same legal name, whichever
    clinician of the EMR it is for, as a "changed version" of it (HRM-FORMAT.md 11.4). Every
    recipient of a part gets the same time, so the files of one letter still differ only in
    TransactionInformation.

    Two messages for one patient may be sent at once from two referrals: on PostgreSQL a lock
    per health card and per legal name (always taken in that order: no deadlock), held until the
    caller's transaction ends, makes the second wait for the first to commit. The read of the
    latest time runs after the locks are held, in a statement of its own, so in READ COMMITTED
    it sees the reports of whoever held them before. (SQLite, the demo's database, runs one
    writing transaction at a time anyway.) The latest time is read from the patient keys each
    report stores, one index probe per key.

    On PostgreSQL the locks, the read and the insert are one query string, one round trip
    (``_reports_insert_dated_postgresql``: a Send's HRM part took 1–2 ms more through the ORM,
    docs/benchmarks.md); elsewhere the ORM (``_reports_insert_dated_orm``, which also takes the
    locks on PostgreSQL). Both run on PostgreSQL in ``tests/hrm/test_fast_path_twins.py``."""
    base = (base or message.created_at).replace(microsecond=0)
    card_key, name_key = patient_keys(message.referral)
    for row in rows:
        # Every report of the patient counts for the next one's time, versions included.
        row.patient_card_key, row.patient_name_key = card_key, name_key
    if not rows:
        return rows
    if connection.vendor == "postgresql":
        return _reports_insert_dated_postgresql(message, rows, offsets, base)
    return _reports_insert_dated_orm(message, rows, offsets, base)


def _reports_insert_dated_orm(
    message: Message, rows: list[HrmReport], offsets: list[int], base: datetime
) -> list[HrmReport]:
    card_key, name_key = patient_keys(message.referral)
    _patient_lock(card_key, name_key)
    latest = HrmReport.objects.filter(
        Q(patient_card_key=card_key) | Q(patient_name_key=name_key)
    ).aggregate(latest=Max("event_at"))["latest"]
    first = base if latest is None else max(base, latest + timedelta(seconds=1))
    for row, offset in zip(rows, offsets, strict=True):
        row.event_at = first + timedelta(seconds=offset)
    return HrmReport.objects.bulk_create(rows)


def _patient_lock(card_key: str, name_key: str) -> None:
    """Hold one lock per patient key until the caller's transaction ends (PostgreSQL)."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0)), "
            "pg_advisory_xact_lock(hashtextextended(%s, 0))",
            [f"hrm-event:{card_key}", f"hrm-event:{name_key}"],
        )


def _reports_insert_dated_postgresql(
    message: Message, rows: list[HrmReport], offsets: list[int], base: datetime
) -> list[HrmReport]:
    """The locks, then the read and the insert, in one round trip; the rows it inserted come
    back as Django loads rows (the documented ``Model.from_db``), holding the message,
    attachment and earlier version the caller gave them (every caller gives them as objects)."""
    card_key, name_key = patient_keys(message.referral)
    params = [f"hrm-event:{card_key}", f"hrm-event:{name_key}", card_key, name_key, base]
    fields = _inserted_fields()
    for row, offset in zip(rows, offsets, strict=True):
        # As Django's own insert prepares each value (defaults, auto_now_add, adaptation).
        params += [
            field.get_db_prep_save(field.pre_save(row, True), connection) for field in fields
        ]
        params.append(offset)
    with connection.cursor() as cursor:
        cursor.execute(_reports_insert_statement(len(rows)), params)
        cursor.nextset()
        inserted = cursor.fetchall()
    returned = _returned_fields()
    attnames = [field.attname for field in returned]
    # A field's documented from_db_value hook is what a queryset applies on PostgreSQL, whose
    # backend converts nothing itself.
    converted = [(i, f) for i, f in enumerate(returned) if hasattr(f, "from_db_value")]
    reports = []
    for row, values in zip(rows, inserted, strict=True):
        values = list(values)
        for index, field in converted:
            values[index] = field.from_db_value(values[index], None, connection)
        report = HrmReport.from_db(connection.alias, attnames, values)
        report.message = row.message
        report.attachment = row.attachment
        report.previous_version = row.previous_version
        reports.append(report)
    return reports


def _inserted_fields() -> list:
    """Every column of a new report but its id and its event time, which the database sets."""
    return [
        field
        for field in HrmReport._meta.concrete_fields
        if not field.primary_key and field.name != "event_at"
    ]


def _returned_fields() -> list:
    return list(HrmReport._meta.concrete_fields)


@functools.cache
def _reports_insert_statement(rows: int) -> str:
    # The latest time for the patient: max() over an index on (key, event_at) is one probe
    # from the index's end, for each key. Rendered once per number of rows: psycopg would
    # otherwise compose it again on every execute.
    def column(field: str) -> sql.Identifier:
        return sql.Identifier(HrmReport._meta.get_field(field).column)

    columns = [sql.Identifier(field.column) for field in _inserted_fields()]
    event_at = sql.Identifier(HrmReport._meta.get_field("event_at").column)
    row = sql.SQL("({}, (SELECT at FROM first) + %s * interval '1 second')").format(
        sql.SQL(", ").join([sql.Placeholder()] * len(columns))
    )
    return (
        sql.SQL(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0)), "
            "pg_advisory_xact_lock(hashtextextended(%s, 0)); "
            "WITH first AS (SELECT GREATEST("
            "(SELECT MAX({event_at}) FROM {report} WHERE {card_key} = %s) + interval '1 second', "
            "(SELECT MAX({event_at}) FROM {report} WHERE {name_key} = %s) + interval '1 second', "
            "%s) AS at) "
            "INSERT INTO {report} ({columns}, {event_at}) VALUES {rows} "
            "RETURNING {returned}"
        )
        .format(
            report=sql.Identifier(HrmReport._meta.db_table),
            card_key=column("patient_card_key"),
            name_key=column("patient_name_key"),
            columns=sql.SQL(", ").join(columns),
            event_at=event_at,
            returned=sql.SQL(", ").join(sql.Identifier(f.column) for f in _returned_fields()),
            rows=sql.SQL(", ").join([row] * rows),
        )
        .as_string()
    )


def report_build_for(report: HrmReport) -> Report:
    """The report ``report`` stands for, from its message, referral, part and recipient; a
    withdrawal version carries its withdrawal text in place of the part."""
    message = report.message
    listing = report.recipient
    part = _Part(report.attachment)
    if report.withdrawal_text:
        content = ReportText(report.withdrawal_text)
    else:
        content = _content(part, message)
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
        content=content,
        report_class=settings.HRM_REPORT_CLASS,
        subclass=settings.HRM_REPORT_SUBCLASS,
        result_status=report.result_status,
    )


def report_xml_build(report: HrmReport) -> bytes:
    """Build and validate ``report``'s file, without storing it (``reports_xml_keep`` does).
    Raises ``ReportInvalid`` (with the problems in plain words) for a file an EMR would drop or
    misfile; such a file is never stored or uploaded."""
    built = report_file_build(report_build_for(report))
    file_size_check(built.size)
    report_validate(built.checked, settings.HRM_SCHEMA)
    return built.whole()


def report_xml_ensure(report: HrmReport) -> bytes:
    """The exact bytes of ``report``'s file: built and validated once, then stored and reused by
    every retry and re-send. Raises ``ReportInvalid`` as ``report_xml_build`` does."""
    if report.xml:  # loaded with the row (or fetched now if the field was deferred)
        return bytes(report.xml)
    reports_xml_keep([(report, report_xml_build(report))])
    return report.xml


def reports_xml_keep(built: list[tuple[HrmReport, bytes]]) -> None:
    """Store each freshly built file as its row's, unless the row has one already; then each
    report's ``xml`` is the bytes its row keeps. Only the first build is kept: if a concurrent
    builder of the same row got there first, its bytes are the ones every attempt uploads."""
    if not built:
        return
    stored = _xml_store_first([(report.pk, xml) for report, xml in built])
    others = {report.pk for report, _ in built} - stored
    kept = dict(HrmReport.objects.filter(pk__in=others).values_list("pk", "xml")) if others else {}
    for report, xml in built:
        report.xml = xml if report.pk in stored else bytes(kept[report.pk])


def _xml_store_first(files: list[tuple[int, bytes]]) -> set[int]:
    """Store each ``(report id, xml)`` unless that row has a file already; the ids stored."""
    if connection.vendor == "postgresql":
        return _xml_store_first_postgresql(files)
    return _xml_store_first_orm(files)


def _xml_store_first_orm(files: list[tuple[int, bytes]]) -> set[int]:
    """One conditional update per file (the demo's SQLite)."""
    return {
        report_id
        for report_id, xml in files
        if HrmReport.objects.filter(pk=report_id, xml=b"").update(xml=xml)
    }


# Each connection's own temporary table, emptied when the transaction commits (migration
# hrm.0017 dropped the shared unlogged one).
_STAGING = "hrm_report_files_new"


def _xml_store_first_postgresql(files: list[tuple[int, bytes]]) -> set[int]:
    """The batch's files copied in binary into a temporary table of the connection's, then moved
    into their rows by one ``UPDATE``, in one transaction (nothing stays staged if either fails).

    Django's psycopg backend binds parameters on the client: the ORM's update sends a bytea as
    an escaped hex literal twice its size, for the server to parse, and holds that text and the
    statement made of it in memory. ``COPY ... (FORMAT BINARY)`` through Django's cursor sends
    the bytes as they are, but only into a table. A temporary one with the report column's
    compression, emptied at commit: a file lz4 shrinks is compressed once, on its way in, and
    moved as it is; no row is deleted one by one. In batches of 16, 0.19 ms a 262 KB file lz4
    shrinks and 1.13 for one it cannot, where the shared unlogged table, stored uncompressed,
    took 0.63 and 1.23, and a binary parameter on a bare psycopg cursor 0.29 and 0.82
    (``bench/hrm_store.py``)."""
    if not files:
        return set()
    batch = uuid.uuid4()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_staging_statement())
        with cursor.copy(_STAGE_STATEMENT) as copy:
            copy.set_types(["uuid", "int8", "bytea"])
            for report_id, xml in files:
                copy.write_row((batch, report_id, xml))
        cursor.execute(_store_statement(), [batch])
        return {row[0] for row in cursor.fetchall()}


_STAGE_STATEMENT = f"COPY {_STAGING} (batch, report_id, xml) FROM STDIN (FORMAT BINARY)"


@functools.cache
def _staging_statement() -> str:
    """The temporary table, created once per connection. Its files are compressed with lz4 as
    the report's column is (migration hrm.0003); where PostgreSQL has no lz4 they are kept
    uncompressed until the column compresses them, as pglz would spend milliseconds failing to
    compress base64 twice."""
    meta = HrmReport._meta
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT attcompression FROM pg_attribute "
            "WHERE attrelid = %s::regclass AND attname = %s",
            [meta.db_table, meta.get_field("xml").column],
        )
        lz4 = cursor.fetchone()[0] == "l"
    stored = "" if lz4 else f"ALTER TABLE {_STAGING} ALTER COLUMN xml SET STORAGE EXTERNAL; "
    return (
        f"DO $$ BEGIN IF to_regclass('pg_temp.{_STAGING}') IS NULL THEN "
        f"CREATE TEMPORARY TABLE {_STAGING} (batch uuid NOT NULL, report_id bigint NOT NULL, "
        f"xml bytea {'COMPRESSION lz4 ' if lz4 else ''}NOT NULL) ON COMMIT DELETE ROWS; "
        f"{stored}END IF; END $$"
    )


@functools.cache
def _store_statement() -> str:
    meta = HrmReport._meta
    return (
        sql.SQL(
            "UPDATE {table} SET {xml} = new.xml FROM {staging} new "
            "WHERE new.batch = %s AND {table}.{pk} = new.report_id AND {table}.{xml} = ''::bytea "
            "RETURNING {table}.{pk}"
        )
        .format(
            staging=sql.Identifier(_STAGING),
            table=sql.Identifier(meta.db_table),
            xml=sql.Identifier(meta.get_field("xml").column),
            pk=sql.Identifier(meta.pk.column),
        )
        .as_string()
    )  # once: psycopg would otherwise compose it again on every execute
