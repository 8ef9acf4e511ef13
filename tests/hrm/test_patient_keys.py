"""A patient's latest report time, read by Send to date the next report, is one index probe per
patient key, whatever another patient's reports hold."""

import importlib
from datetime import timedelta

import pytest
from django.apps import apps
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from psycopg import sql

from hrm.models import HrmReport
from hrm.reports.services import message_reports_create, patient_keys
from referrals import services
from referrals.models import Message

from ..factories import make_referral


@pytest.fixture
def recipients(world):
    world.practice_listing.clinician_first_name = "Alice"
    world.practice_listing.clinician_surname = "Nguyen"
    world.practice_listing.clinician_professional_id = "D12345"
    world.practice_listing.save()
    return [world.practice_listing]


def burst(world, recipients, reports: int) -> None:
    """Another patient's reports, dated after now, as a long message's parts would be: copies
    of one report made in the database."""
    other = make_referral(
        world.referrer,
        world.practice_listing,
        world.cardiology,
        patient_first_name="Marc",
        patient_last_name="Burst",
        patient_health_card_number="1111111118",
    )
    message = services.message_post(referral=other, author=world.referrer, text="x")
    [template] = message_reports_create(message=message, recipients=recipients)
    meta = HrmReport._meta
    columns = [f.column for f in meta.concrete_fields if not f.primary_key]
    values = {
        "transaction_id": sql.SQL("transaction_id || '-' || g"),
        "event_at": sql.SQL("now() + (g || ' seconds')::interval"),
    }
    statement = sql.SQL(
        "INSERT INTO {table} ({columns}) SELECT {values} FROM {table}, "
        "generate_series(1, %s) AS g WHERE id = %s"
    ).format(
        table=sql.Identifier(meta.db_table),
        columns=sql.SQL(", ").join(map(sql.Identifier, columns)),
        values=sql.SQL(", ").join(values.get(c, sql.Identifier(c)) for c in columns),
    )
    with connection.cursor() as cursor:
        # One text report per message and recipient is the rule, lifted in this test only.
        cursor.execute('DROP INDEX "hrm_report_one_text_report_per_recipient"')
        cursor.execute(statement.as_string(), [reports, template.pk])
        cursor.execute("ANALYZE hrm_hrmreport")


def send(world, referral, recipients):
    message = services.message_post(referral=referral, author=world.referrer, text="Seen.")
    with CaptureQueriesContext(connection) as queries:
        [row] = message_reports_create(message=message, recipients=recipients)
    [insert] = [q["sql"] for q in queries if "pg_advisory_xact_lock" in q["sql"]]
    return row, insert


def test_another_patients_burst_leaves_the_latest_time_one_index_probe_per_key(
    world, referral, recipients
):
    burst(world, recipients, 3000)
    row, insert = send(world, referral, recipients)
    dating = insert.split("; ", 1)[1]  # after the locks: the read of the latest time, the insert
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {dating}")
        plan = "\n".join(line for (line,) in cursor.fetchall())
    assert "hrm_report_card_latest" in plan and "hrm_report_name_latest" in plan, plan
    assert "Seq Scan" not in plan and "Filter" not in plan, plan
    # Dated when it was sent: the other patient's later reports are not this patient's.
    assert row.event_at == Message.objects.get(pk=row.message_id).created_at.replace(microsecond=0)


def test_a_report_stores_its_patients_keys_whatever_the_case_and_the_card_is_typed(
    world, recipients
):
    typed = make_referral(
        world.referrer,
        world.practice_listing,
        world.cardiology,
        patient_first_name="HÉLÈNE",
        patient_last_name="Tremblay",
        patient_health_card_number="1234 567 897",
    )
    assert patient_keys(typed) == ("card:1234567897", "name:tremblay|hélène")
    row, _ = send(world, typed, recipients)
    stored = HrmReport.objects.get(pk=row.pk)
    assert (stored.patient_card_key, stored.patient_name_key) == patient_keys(typed)


def test_reports_made_before_the_keys_get_them_from_their_referral(world, referral, recipients):
    first, _ = send(world, referral, recipients)
    HrmReport.objects.update(patient_card_key="", patient_name_key="")
    migration = importlib.import_module("hrm.migrations.0013_report_patient_keys")
    migration.reports_patient_keys_fill(apps, None)
    stored = HrmReport.objects.get(pk=first.pk)
    assert (stored.patient_card_key, stored.patient_name_key) == patient_keys(referral)
    # The next report for the patient is dated after it, as before the keys.
    HrmReport.objects.filter(pk=first.pk).update(event_at=timezone.now() + timedelta(hours=1))
    second, _ = send(world, referral, recipients)
    assert second.event_at == HrmReport.objects.get(pk=first.pk).event_at + timedelta(seconds=1)


pytestmark = pytest.mark.django_db
