"""Every PostgreSQL fast path and its plain ORM twin (the one the demo's SQLite takes), run side
by side on the real PostgreSQL test database with the same data: they must leave and return the
same rows, and Django must see every statement the fast path sends (so ``assertNumQueries`` and
``CaptureQueriesContext`` count it).

The fast paths: the claim (``hrm.delivery.services.claim``); a Send's dated insert of its
reports and the report files' binary store (``hrm.reports.services``); the receivers looked up
for a Send (``hrm.receivers.selectors``); the receivers' bulk writes (``hrm.receivers.writes``,
whose rows are compared field by field in ``test_receiver_writes.py``); the dashboard's row
estimate and its days (``hrm.delivery.selectors.dashboard``); and HRM's state read before each batch
(``hrm.delivery.services.health``, plain SQL on every database)."""

import os
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from hrm.delivery.selectors import dashboard
from hrm.delivery.services.claim import _reports_claim_orm, _reports_claim_postgresql
from hrm.delivery.services.health import _hrm_state
from hrm.models import HrmHealth, HrmReceiver, HrmReport, ReceiverImport
from hrm.receivers.list_file import ReceiverRow
from hrm.receivers.selectors import _receivers_listed_orm, _receivers_listed_postgresql
from hrm.receivers.writes import receivers_write
from hrm.reports.services import (
    _reports_insert_dated_orm,
    _reports_insert_dated_postgresql,
    _staging_statement,
    _xml_store_first_orm,
    _xml_store_first_postgresql,
    message_parts,
    report_number_for,
    transaction_id_for,
)
from referrals import services

from ..factories import pdf_upload

Status = HrmReport.Status


def _columns(instance) -> list:
    return [getattr(instance, f.attname) for f in type(instance)._meta.concrete_fields]


def _claimed(report: HrmReport) -> list[list]:
    """A claimed report and everything the claim loads with it, column by column."""
    loaded = [
        report,
        report.message,
        report.message.referral,
        report.message.author,
        report.recipient,
    ]
    columns = [_columns(instance) for instance in loaded]
    columns.append(None if report.attachment is None else _columns(report.attachment))
    return columns


def _claim(claim, ids, now) -> tuple[list[HrmReport], int, list[tuple]]:
    """Run one claim in a transaction that is then undone, so both ways see the same rows."""
    with transaction.atomic():
        with CaptureQueriesContext(connection) as queries:
            claimed = claim(ids, now)
        with CaptureQueriesContext(connection) as later:
            loaded = [_claimed(report) for report in claimed]
        assert not later  # the message, referral, author, recipient, attachment came with it
        stored = list(
            HrmReport.objects.filter(pk__in=ids)
            .order_by("pk")
            .values_list("pk", "status", "attempts", "sending_since", "last_attempt_at")
        )
        transaction.set_rollback(True)
    return loaded, len(queries), stored


def test_the_claim_in_one_statement_and_in_the_orm_take_and_load_the_same_reports(live):
    message = services.message_post(
        referral=live.referral, author=live.world.specialist, text="Seen.", files=[pdf_upload()]
    )
    reports = list(message.hrm_reports.order_by("pk"))
    assert len(reports) == 4  # the typed text and the PDF, for each of two stakeholders
    text, not_due = [report for report in reports if report.attachment_id is None]
    pdf, taken = [report for report in reports if report.attachment_id is not None]
    HrmReport.objects.filter(pk=not_due.pk).update(next_attempt_at=timezone.now() + timedelta(1))
    HrmReport.objects.filter(pk=taken.pk).update(status=Status.SENDING, attempts=1)
    ids = [taken.pk, pdf.pk, not_due.pk, text.pk]
    now = timezone.now()

    fast, fast_statements, fast_rows = _claim(_reports_claim_postgresql, ids, now)
    orm, orm_statements, orm_rows = _claim(_reports_claim_orm, ids, now)

    assert (fast_statements, orm_statements) == (1, 2)
    assert fast == orm
    assert [columns[0][0] for columns in fast] == sorted([text.pk, pdf.pk])
    assert fast_rows == orm_rows
    assert {row[0]: row[1:] for row in fast_rows}[pdf.pk] == (Status.SENDING, 1, now, now)
    # The claimed rows came back as the stored rows: what the build then reads is the truth.
    for columns in fast:
        stored = {row[0]: row for row in fast_rows}[columns[0][0]]
        assert stored[1:3] == (Status.SENDING, 1)


def test_what_a_claims_reports_hang_from_is_made_once(live):
    message = services.message_post(
        referral=live.referral, author=live.world.specialist, text="Seen.", files=[pdf_upload()]
    )
    ids = list(message.hrm_reports.values_list("pk", flat=True))
    with transaction.atomic():
        claimed = _reports_claim_postgresql(ids, timezone.now())
        transaction.set_rollback(True)
    assert len(claimed) == 4
    assert len({id(report.message) for report in claimed}) == 1
    assert len({id(report.message.referral) for report in claimed}) == 1
    assert len({id(report.message.author) for report in claimed}) == 1
    assert len({id(report.attachment) for report in claimed if report.attachment}) == 1
    assert len({report.recipient.pk for report in claimed}) == 2  # the two stakeholders
    assert claimed[0].message.text == "Seen." and claimed[0].message.referral == live.referral


def test_the_claim_ways_agree_when_nothing_is_due(live):
    message = services.message_post(
        referral=live.referral, author=live.world.specialist, text="Seen."
    )
    ids = list(message.hrm_reports.values_list("pk", flat=True))
    HrmReport.objects.filter(pk__in=ids).update(status=Status.SENT)
    now = timezone.now()
    assert _claim(_reports_claim_postgresql, ids, now)[0] == []
    assert _claim(_reports_claim_orm, ids, now)[0] == []


@pytest.mark.django_db
def test_the_receivers_copy_is_a_statement_django_sees():
    receiver_import = ReceiverImport.objects.create(
        uploaded_by_name="support", file_name="list.csv", sha256="0" * 64, content=b""
    )
    rows = [ReceiverRow(f"D{n}", "Ann", f"Smith {n}", n + 2) for n in range(3)]
    counts = {}
    for fast in (True, False):
        with transaction.atomic(), CaptureQueriesContext(connection) as queries:
            receivers_write(
                added=rows,
                updated=[],
                removed_ids=[],
                receiver_import=receiver_import,
                now=timezone.now(),
                fast=fast,
            )
            added = list(
                HrmReceiver.objects.order_by("professional_id").values_list(
                    "professional_id", "first_name", "last_name", "is_active"
                )
            )
            transaction.set_rollback(True)
        counts[fast] = [q["sql"].split()[0].upper() for q in queries]
        assert added == [(f"D{n}", "Ann", f"Smith {n}", True) for n in range(3)]
    assert counts[True][0] == "COPY" and counts[False][0] == "INSERT"


def test_the_dashboards_estimate_is_the_count_once_the_table_is_analysed(live, monkeypatch):
    for n in range(3):
        services.message_post(
            referral=live.referral, author=live.world.specialist, text=f"Seen {n}."
        )
    HrmReport.objects.update(status=Status.SENT, sent_at=timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {HrmReport._meta.db_table}")
    count = HrmReport.objects.count()
    assert count == 6
    assert dashboard._estimated_rows_postgresql(HrmReport) == count
    assert dashboard._estimated_rows_orm(HrmReport) == count
    # The dashboard's figure past its exact limit: the estimate, less the other statuses.
    monkeypatch.setattr(dashboard, "SENT_EXACT_UP_TO", 2)
    HrmReport.objects.filter(pk=HrmReport.objects.order_by("pk").first().pk).update(
        status=Status.FAILED
    )
    by_status, estimated = dashboard.hrm_report_counts_by_status()
    assert estimated and by_status[Status.SENT] == 5 and by_status[Status.FAILED] == 1


def _store(store, files) -> tuple[set[int], dict[int, bytes], list[str]]:
    with transaction.atomic():
        with CaptureQueriesContext(connection) as queries:
            stored = store(files)
        rows = {
            pk: bytes(xml)
            for pk, xml in HrmReport.objects.filter(pk__in=[f[0] for f in files]).values_list(
                "pk", "xml"
            )
        }
        transaction.set_rollback(True)
    kinds = [q["sql"].split()[0].upper() for q in queries]
    return stored, rows, [k for k in kinds if k not in ("SAVEPOINT", "RELEASE")]


def test_the_files_stored_in_binary_and_through_the_orm_are_the_same_bytes(live):
    message = services.message_post(
        referral=live.referral, author=live.world.specialist, text="Seen.", files=[pdf_upload()]
    )
    ids = list(message.hrm_reports.order_by("pk").values_list("pk", flat=True))
    HrmReport.objects.filter(pk=ids[0]).update(xml=b"<kept/>")  # a concurrent build got there
    # Every byte value, a NUL and a quote among them, and a file the size of a PDF's report.
    files = [(pk, bytes(range(256)) * 4 + os.urandom(300_000) + b"'\x00") for pk in ids]

    _staging_statement()  # the column's compression, looked up once per process
    fast_stored, fast_rows, fast_statements = _store(_xml_store_first_postgresql, files)
    orm_stored, orm_rows, orm_statements = _store(_xml_store_first_orm, files)

    assert fast_stored == orm_stored == set(ids[1:])
    assert fast_rows == orm_rows
    assert fast_rows[ids[0]] == b"<kept/>"
    assert all(fast_rows[pk] == xml for pk, xml in files[1:])
    assert fast_statements == ["DO", "COPY", "UPDATE"]  # Django saw each, the copy too
    assert orm_statements == ["UPDATE"] * 4


@pytest.mark.django_db(transaction=True)
def test_nothing_stays_staged_once_the_files_are_stored(live):
    message = services.message_post(
        referral=live.referral, author=live.world.specialist, text="Seen.", files=[]
    )
    ids = list(message.hrm_reports.values_list("pk", flat=True))
    assert _xml_store_first_postgresql([(pk, b"<file/>") for pk in ids]) == set(ids)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM hrm_report_files_new")  # this connection's table
        assert cursor.fetchone() == (0,)
    assert set(HrmReport.objects.values_list("xml", flat=True)) == {b"<file/>"}


@pytest.mark.django_db(transaction=True)
def test_without_lz4_the_staged_files_are_not_compressed_twice(live):
    message = services.message_post(
        referral=live.referral, author=live.world.specialist, text="Seen.", files=[]
    )
    ids = list(message.hrm_reports.values_list("pk", flat=True))
    connection.close()  # a connection with no staging table yet
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE hrm_hrmreport ALTER COLUMN xml SET COMPRESSION pglz")
    _staging_statement.cache_clear()
    try:
        assert _xml_store_first_postgresql([(pk, b"<file/>") for pk in ids]) == set(ids)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT attstorage, attcompression FROM pg_attribute "
                "WHERE attrelid = to_regclass('pg_temp.hrm_report_files_new') AND attname = 'xml'"
            )
            assert cursor.fetchone() == ("e", "")  # stored as it comes, compressed once after
    finally:
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE hrm_hrmreport ALTER COLUMN xml SET COMPRESSION lz4")
        _staging_statement.cache_clear()
        connection.close()
    assert set(HrmReport.objects.values_list("xml", flat=True)) == {b"<file/>"}


@pytest.mark.django_db
def test_the_receivers_looked_up_for_a_send_are_the_same_both_ways():
    receiver_import = ReceiverImport.objects.create(
        uploaded_by_name="support", file_name="list.csv", sha256="0" * 64, content=b""
    )
    gone = timezone.now() - timedelta(days=3)
    for pid, active in (("D1", True), ("D2", False), ("N1234567", True)):
        HrmReceiver.objects.create(
            professional_id=pid,
            first_name="Zoë",
            last_name="O'Kafor",
            is_active=active,
            deactivated_at=None if active else gone,
            added_by_import=receiver_import,
            updated_by_import=receiver_import,
        )
    asked = {"D1", "D2", "N1234567", "D9"}  # D9 is not on the list
    with CaptureQueriesContext(connection) as fast_queries:
        fast = sorted(_receivers_listed_postgresql(asked))
    with CaptureQueriesContext(connection) as orm_queries:
        orm = sorted(_receivers_listed_orm(asked))
    assert fast == orm
    assert [(row[0], row[3], row[4]) for row in fast] == [
        ("D1", True, None),
        ("D2", False, gone),
        ("N1234567", True, None),
    ]
    assert len(fast_queries) == len(orm_queries) == 1


@pytest.mark.django_db
def test_hrms_state_read_before_each_batch_is_the_rows():
    HrmHealth.objects.filter(pk=1).delete()
    with CaptureQueriesContext(connection) as queries:
        assert _hrm_state() is None
    assert len(queries) == 1
    HrmHealth.objects.create(pk=1, state=HrmHealth.State.DOWN)
    assert _hrm_state() == HrmHealth.objects.get(pk=1).state == HrmHealth.State.DOWN


def _new_rows(message, recipients) -> tuple[list[HrmReport], list[int]]:
    """``message``'s reports as ``message_reports_create`` builds them, not yet inserted."""
    rows, offsets = [], []
    for index, part in enumerate(message_parts(message)):
        number = report_number_for(message, part.key)
        for listing in recipients:
            rows.append(
                HrmReport(
                    message=message,
                    attachment=part.attachment,
                    recipient=listing,
                    deliver_to_user_id=listing.clinician_professional_id,
                    recipient_name=listing.clinician_name,
                    transaction_id=transaction_id_for(number, listing.clinician_professional_id),
                    report_number=number,
                    xml=b"",
                )
            )
            offsets.append(index)
    return rows, offsets


# Set from the clock as each row is built or inserted, so they differ between the two runs.
_CLOCK = {"id", "created_at", "next_attempt_at", "delivery_started_at"}


def _insert(insert, message, recipients, base):
    with transaction.atomic():
        rows, offsets = _new_rows(message, recipients)
        with CaptureQueriesContext(connection) as queries:
            reports = insert(message, rows, offsets, base)
        with CaptureQueriesContext(connection) as later:
            held = [(r.message, r.attachment) for r in reports]
        assert not later and all(m == message for m, _ in held)  # loaded as the caller gave
        stored = HrmReport.objects.in_bulk([r.pk for r in reports])
        assert [_columns(r) for r in reports] == [_columns(stored[r.pk]) for r in reports]
        fields = [f.attname for f in HrmReport._meta.concrete_fields]
        compared = [dict(zip(fields, _columns(r), strict=True)) for r in reports]
        compared = [{k: v for k, v in row.items() if k not in _CLOCK} for row in compared]
        transaction.set_rollback(True)
    return compared, [q["sql"] for q in queries]


def test_a_sends_reports_dated_in_one_round_trip_and_through_the_orm_are_the_same(live):
    first = services.message_post(
        referral=live.referral, author=live.world.specialist, text="First.", files=[pdf_upload()]
    )
    second = services.message_post(
        referral=live.referral, author=live.world.specialist, text="Second.", files=[pdf_upload()]
    )
    recipients = sorted({r.recipient for r in second.hrm_reports.all()}, key=lambda r: r.pk)
    assert len(recipients) == 2
    HrmReport.objects.filter(message=second).delete()
    # Dated from the first message's time: the second's must come after the patient's latest.
    base = min(first.hrm_reports.values_list("event_at", flat=True))
    latest = max(first.hrm_reports.values_list("event_at", flat=True))

    fast, fast_statements = _insert(_reports_insert_dated_postgresql, second, recipients, base)
    orm, orm_statements = _insert(_reports_insert_dated_orm, second, recipients, base)

    assert fast == orm
    assert [r["event_at"] for r in fast] == [latest + timedelta(seconds=s) for s in (1, 1, 2, 2)]
    assert len(fast_statements) == 1 and "pg_advisory_xact_lock" in fast_statements[0]
    assert len(orm_statements) == 3 and "pg_advisory_xact_lock" in orm_statements[0]


def test_the_dashboards_days_counted_in_the_database_and_in_python_are_the_same(live):
    for n in range(4):
        services.message_post(referral=live.referral, author=live.world.specialist, text=f"{n}.")
    ids = list(HrmReport.objects.order_by("pk").values_list("pk", flat=True))
    today = timezone.localtime().date()
    edges = [dashboard._local_day_start(today - timedelta(days=29 - n)) for n in range(31)]
    # At a midnight, just before one, within a day, before the first day, after the last.
    times = [
        edges[0],
        edges[1] - timedelta(microseconds=1),
        edges[1],
        edges[14] + timedelta(hours=13),
        edges[14] + timedelta(hours=23),
        edges[29] + timedelta(hours=1),
        edges[0] - timedelta(seconds=1),
        edges[30],
    ]
    for pk, at in zip(ids, times, strict=True):
        HrmReport.objects.filter(pk=pk).update(status=Status.SENT, sent_at=at)
    rows = HrmReport.objects.all()
    fast = dashboard._per_day_postgresql(rows, "sent_at", edges)
    orm = dashboard._per_day_orm(rows, "sent_at", edges)
    assert fast == orm == {1: 2, 2: 1, 15: 2, 30: 1}
