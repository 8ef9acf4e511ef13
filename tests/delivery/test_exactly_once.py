"""Exactly once into a server that takes each completed file away as soon as it appears, as
HRM's inbound folder does: after any crash, the row's record (not the server's folder) tells the
next attempt whether the file was renamed."""

import psycopg
import pytest
from django.db import InterfaceError, OperationalError, connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from hrm.delivery.connections import transport_get
from hrm.delivery.services.outbox import report_deliver, reports_deliver
from hrm.delivery.services.recording import Outcome
from hrm.delivery.transports import remote_name_for
from hrm.models import HrmReport
from hrm.reports.crypto import report_encrypt
from hrm.reports.services import report_xml_build, report_xml_ensure
from referrals import services

from ..delivery_fixtures import AES_KEY, delivered_bytes, delivered_files, part_files
from ..factories import pdf_upload

Status = HrmReport.Status


@pytest.fixture
def reports(live, hrm_sftp):
    message = services.message_post(
        referral=live.referral, author=live.world.specialist, text="Seen.", files=[pdf_upload()]
    )
    return list(message.hrm_reports.order_by("id"))


def file_of(report) -> tuple[str, bytes]:
    report = HrmReport.objects.get(pk=report.pk)
    return remote_name_for(report.transaction_id), report_encrypt(
        report_xml_ensure(report), AES_KEY
    )


def after_a_crash(report, **fields) -> None:
    """The row as the re-drive leaves it after the worker died: queued again, one attempt
    counted."""
    HrmReport.objects.filter(pk=report.pk).update(
        status=Status.QUEUED, next_attempt_at=timezone.now(), attempts=1, **fields
    )


@pytest.mark.django_db(transaction=True)
def test_every_part_is_staged_before_any_rename_and_sent_once_the_renames_return(live, hrm_sftp):
    message = services.message_post(
        referral=live.referral, author=live.world.specialist, text="Seen.", files=[pdf_upload()]
    )
    ids = list(message.hrm_reports.values_list("pk", flat=True))
    dsn = connection.get_connection_params()
    seen = []

    def recorded_so_far(name):
        # On the server, at each rename: how many reports the database says are staged, and sent.
        with psycopg.connect(**{**dsn, "autocommit": True}) as other:
            seen.append(
                other.execute(
                    "SELECT count(staged_at), count(*) FILTER (WHERE status = 'sent') "
                    "FROM hrm_hrmreport"
                ).fetchone()
            )
        if len(seen) < 4:
            hrm_sftp.after_rename = recorded_so_far

    hrm_sftp.after_rename = recorded_so_far
    with CaptureQueriesContext(connection) as queries:
        results = reports_deliver(ids, transport_get())
    assert {result.outcome for result in results.values()} == {Outcome.SENT}
    assert seen == [(4, 0)] * 4  # all four staged first; none recorded sent before its rename
    assert HrmReport.objects.filter(status=Status.SENT).count() == 4
    # The four recorded sent in one statement.
    assert len([q for q in queries if q["sql"].startswith("WITH batch AS")]) == 1
    connection.close()


def test_staged_and_taken_away_means_delivered_and_is_not_uploaded_again(reports, hrm_sftp):
    # The worker staged and renamed the file, then died before recording it; HRM took it.
    name, data = file_of(reports[0])
    transport = transport_get()
    transport.stage(name, data)
    after_a_crash(reports[0], staged_at=timezone.now())
    transport.promote(name)
    assert delivered_files(hrm_sftp) == [name]

    assert report_deliver(reports[0].pk, transport).outcome is Outcome.SENT
    assert delivered_files(hrm_sftp) == [name]  # exactly once
    assert HrmReport.objects.get(pk=reports[0].pk).status == Status.SENT


def test_never_staged_and_absent_is_uploaded(reports, hrm_sftp):
    # The worker died before its .part was complete (or before it wrote one).
    name, data = file_of(reports[0])
    (hrm_sftp.inbox / (name + ".part")).write_bytes(data[:1000])
    after_a_crash(reports[0])
    assert report_deliver(reports[0].pk, transport_get()).outcome is Outcome.SENT
    assert delivered_files(hrm_sftp) == [name]
    assert part_files(hrm_sftp) == []


def test_a_complete_part_whose_marker_was_never_committed_is_marked_then_renamed(reports, hrm_sftp):
    name, data = file_of(reports[0])
    transport = transport_get()
    transport.stage(name, data)
    after_a_crash(reports[0])
    assert report_deliver(reports[0].pk, transport).outcome is Outcome.SENT
    assert delivered_files(hrm_sftp) == [name]
    assert HrmReport.objects.get(pk=reports[0].pk).staged_at is not None


def test_a_rename_whose_reply_was_lost_is_looked_up_not_uploaded_again(reports, hrm_sftp):
    transport = transport_get()
    assert report_deliver(reports[0].pk, transport).outcome is Outcome.SENT  # a kept connection
    hrm_sftp.drop_after_rename = True  # the rename happens, HRM takes the file, no reply
    results = reports_deliver([r.pk for r in reports[1:]], transport)
    assert {result.outcome for result in results.values()} == {Outcome.SENT}
    assert sorted(hrm_sftp.taken_counts().values()) == [1, 1, 1, 1]


@pytest.mark.django_db(transaction=True)
def test_a_database_connection_cut_after_a_rename_is_reconnected_not_uploaded_again(live, hrm_sftp):
    message = services.message_post(
        referral=live.referral, author=live.world.specialist, text="Seen."
    )
    [first, second] = message.hrm_reports.order_by("id")
    transport = transport_get()
    HrmReport.objects.filter(pk=first.pk).exists()  # opens this thread's connection
    backend = connection.connection.info.backend_pid
    dsn = connection.get_connection_params()

    def terminate_the_workers_session(name):
        # What `pg_terminate_backend` during a database restart does, right after the rename.
        with psycopg.connect(**{**dsn, "autocommit": True}) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", [backend])

    hrm_sftp.after_rename = terminate_the_workers_session
    results = reports_deliver([first.pk, second.pk], transport)
    assert {result.outcome for result in results.values()} == {Outcome.SENT}
    assert set(message.hrm_reports.values_list("status", flat=True)) == {Status.SENT}
    assert sorted(hrm_sftp.taken_counts().values()) == [1, 1]
    connection.close()


def test_a_report_failed_for_good_leaves_no_part_on_the_server(reports, hrm_sftp, settings):
    settings.HRM_DELIVERY_MAX_ATTEMPTS = 2
    name, data = file_of(reports[0])
    (hrm_sftp.inbox / (name + ".part")).write_bytes(data[:1000])  # left by a killed attempt
    after_a_crash(reports[0])
    hrm_sftp.disk_full = True
    assert report_deliver(reports[0].pk, transport_get()).outcome is Outcome.FAILED
    failed = HrmReport.objects.get(pk=reports[0].pk)
    assert failed.status == Status.FAILED and "Gave up after 2 attempts" in failed.last_error
    assert part_files(hrm_sftp) == []


def test_a_refused_report_failed_for_good_leaves_no_part(live, reports, hrm_sftp):
    refused = next(r for r in reports if r.deliver_to_user_id == "N1234567")
    name, data = file_of(refused)
    (hrm_sftp.inbox / (name + ".part")).write_bytes(data)  # staged by an earlier attempt
    after_a_crash(refused, staged_at=timezone.now())
    hrm_sftp.refuse_deliver_to("N1234567")
    reports_deliver([r.pk for r in reports], transport_get())
    row = HrmReport.objects.get(pk=refused.pk)
    assert row.status == Status.FAILED and row.staged_at is None
    assert part_files(hrm_sftp) == []


def test_a_retry_that_builds_its_file_again_never_trusts_a_complete_part(reports, hrm_sftp):
    # The worker wrote the whole .part and died before the batch's files were stored: the retry
    # builds the file again, and that file is what HRM gets, whatever the .part held.
    report = next(r for r in reports if r.attachment_id is None)
    name = remote_name_for(report.transaction_id)
    expected = report_encrypt(report_xml_build(HrmReport.objects.get(pk=report.pk)), AES_KEY)
    (hrm_sftp.inbox / (name + ".part")).write_bytes(b"\0" * len(expected))  # a complete size
    after_a_crash(report)
    assert report_deliver(report.pk, transport_get()).outcome is Outcome.SENT
    assert delivered_bytes(hrm_sftp, name) == expected
    assert report_encrypt(HrmReport.objects.get(pk=report.pk).xml, AES_KEY) == expected


class EarlierAttemptKeepsItsFile:
    """The real transport; as this attempt starts writing, an earlier attempt at the same report
    (still running after the re-drive handed the report on) stores its own file first."""

    def __init__(self, transport, report_id: int, xml: bytes):
        self.transport, self.report_id, self.xml = transport, report_id, xml

    def staging(self, names):
        HrmReport.objects.filter(pk=self.report_id, xml=b"").update(xml=self.xml)
        return self.transport.staging(names)

    def __getattr__(self, name):
        return getattr(self.transport, name)


def test_the_file_a_row_kept_is_the_one_delivered_even_when_another_attempt_kept_it(
    reports, hrm_sftp
):
    report = next(r for r in reports if r.attachment_id is None)
    theirs = report_xml_build(HrmReport.objects.get(pk=report.pk)).replace(b"Seen.", b"Seen!")
    transport = EarlierAttemptKeepsItsFile(transport_get(), report.pk, theirs)
    assert reports_deliver([report.pk], transport)[report.pk].outcome is Outcome.SENT
    name = remote_name_for(report.transaction_id)
    assert delivered_bytes(hrm_sftp, name) == report_encrypt(theirs, AES_KEY)  # same size, too
    assert bytes(HrmReport.objects.get(pk=report.pk).xml) == theirs
    assert part_files(hrm_sftp) == []


def test_a_file_that_cannot_be_made_mid_batch_fails_alone_and_leaves_no_part(reports, hrm_sftp):
    pdf = next(r for r in reports if r.attachment_id)
    pdf.attachment.file.storage.delete(pdf.attachment.file.name)
    results = reports_deliver([r.pk for r in reports], transport_get())
    outcomes = {r.attachment_id is None: set() for r in reports}
    for report in reports:
        outcomes[report.attachment_id is None].add(results[report.pk].outcome)
    assert outcomes == {True: {Outcome.SENT}, False: {Outcome.FAILED}}
    assert len(delivered_files(hrm_sftp)) == 2
    assert part_files(hrm_sftp) == []  # the missing file's opened .part files were removed


@pytest.mark.django_db(transaction=True)
def test_a_database_lost_while_the_files_are_made_gives_up_their_connection(live, hrm_sftp):
    message = services.message_post(
        referral=live.referral, author=live.world.specialist, text="Seen.", files=[pdf_upload()]
    )
    ids = list(message.hrm_reports.order_by("id").values_list("pk", flat=True))
    transport = transport_get()
    HrmReport.objects.filter(pk=ids[0]).exists()  # opens this thread's connection
    backend = connection.connection.info.backend_pid
    dsn = connection.get_connection_params()

    class DatabaseCutAfterTheFirstFile:
        """The real transport; once the batch's first file is sent, the worker's database
        session ends, as in a database restart."""

        def staging(self, names):
            staging = transport.staging(names)
            first = staging.write

            def write(name, data):
                first(name, data)
                staging.write = first
                with psycopg.connect(**{**dsn, "autocommit": True}) as admin:
                    admin.execute("SELECT pg_terminate_backend(%s)", [backend])

            staging.write = write
            return staging

        def __getattr__(self, name):
            return getattr(transport, name)

    with pytest.raises((OperationalError, InterfaceError)):
        reports_deliver(ids, DatabaseCutAfterTheFirstFile())
    connection.close()
    rows = HrmReport.objects.filter(pk__in=ids)
    assert set(rows.values_list("status", flat=True)) == {Status.SENDING}  # for the re-drive
    assert delivered_files(hrm_sftp) == []
    rows.update(status=Status.QUEUED, next_attempt_at=timezone.now())
    results = reports_deliver(ids, transport)
    assert {result.outcome for result in results.values()} == {Outcome.SENT}
    assert sorted(hrm_sftp.taken_counts().values()) == [1, 1, 1, 1]
    # The connection with files still open on it was given up, not used for the next batch.
    assert hrm_sftp.connections_made == 2
    connection.close()
