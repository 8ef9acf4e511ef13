"""Support's pages, the referral page, the claim and a Send at a region's volume: each timed on a
nearly empty database, then again once the tables hold ``BENCH_SCALE_REPORTS`` reports (one
attempt each) in ``BENCH_SCALE_MESSAGES`` messages, and after one patient's burst of reports
dated ahead of now. Target: each within 2x its empty time, or under 200 ms.

Run from the repository root: ``.venv/bin/python bench/scale.py``. It uses a throwaway
PostgreSQL database (created and dropped) and a private Redis; filling it takes a minute or two
(``generate_series``), then VACUUM ANALYZE as autovacuum would."""

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _support import throwaway_django

from tests.processes import PrivateRedis

REPORTS = int(os.environ.get("BENCH_SCALE_REPORTS", "1000000"))
MESSAGES = int(os.environ.get("BENCH_SCALE_MESSAGES", "100000"))
REFERRALS = 1000
BURST = 10_000
RUNS = 5
PAGE = 100  # the admin list's rows per page


def _copy_rows(cursor, model, template_id: int, overrides: dict, count: int) -> None:
    """``count`` copies of row ``template_id`` of ``model``, with ``overrides`` (SQL
    expressions of ``g``, the copy's number from 1) for some columns."""
    from psycopg import sql

    meta = model._meta
    columns = [f.column for f in meta.concrete_fields if not f.primary_key]
    values = [
        sql.SQL(overrides[column]) if column in overrides else sql.Identifier(column)
        for column in columns
    ]
    statement = sql.SQL(
        "INSERT INTO {table} ({columns}) SELECT {values} FROM {table}, "
        "generate_series(1, %s) AS g WHERE {pk} = %s"
    ).format(
        table=sql.Identifier(meta.db_table),
        columns=sql.SQL(", ").join(map(sql.Identifier, columns)),
        values=sql.SQL(", ").join(values),
        pk=sql.Identifier(meta.pk.column),
    )
    cursor.execute(statement.as_string(), [count, template_id])


def _fill(world, live) -> None:
    from django.db import connection

    from hrm.models import HrmAttempt, HrmReport
    from referrals.models import Message, Referral
    from tests.factories import make_referral

    referrals = [
        make_referral(
            world.referrer,
            world.practice_listing,
            world.cardiology,
            patient_first_name=f"Bulk{n}",
            patient_health_card_number=f"{n:010d}",
        ).pk
        for n in range(REFERRALS)
    ]
    template_message = live.referral.messages.order_by("pk").last()
    template_report = HrmReport.objects.filter(message=template_message).first()
    template_attempt = HrmAttempt.objects.filter(report=template_report).first()
    with connection.cursor() as cursor:
        # Copies of one report under new Transaction IDs; one text report per message and
        # recipient is the rule, lifted in this throwaway database only.
        cursor.execute('DROP INDEX "hrm_report_one_text_report_per_recipient"')
        first_message = Message.objects.order_by("-pk").values_list("pk", flat=True)[0] + 1
        _copy_rows(
            cursor,
            Message,
            template_message.pk,
            {
                "referral_id": f"(ARRAY{referrals}::bigint[])[1 + g %% {REFERRALS}]",
                "created_at": "now() - (g * 300 || ' seconds')::interval",
            },
            MESSAGES,
        )
        per_message = max(1, REPORTS // MESSAGES)
        message_of = f"{first_message} + (g - 1) / {per_message}"
        _copy_rows(
            cursor,
            HrmReport,
            template_report.pk,
            {
                "message_id": message_of,
                "transaction_id": "transaction_id || '-' || g",
                "event_at": "now() - (g * 30 || ' seconds')::interval",
                "created_at": "now() - (g * 30 || ' seconds')::interval",
                "sent_at": "CASE WHEN g %% 50 = 0 THEN NULL "
                "ELSE now() - (g * 30 || ' seconds')::interval END",
                "status": "CASE WHEN g %% 50 = 0 THEN 'failed' ELSE 'sent' END",
                "last_error": "CASE WHEN g %% 50 = 0 THEN 'HRM refused: ' || (g %% 97) ELSE '' END",
                "patient_card_key": f"'card:' || lpad(((g - 1) / {per_message} %% {REFERRALS})"
                "::text, 10, '0')",
                "patient_name_key": f"'name:tremblay|bulk' || ((g - 1) / {per_message} "
                f"%% {REFERRALS})",
            },
            REPORTS,
        )
        if template_attempt is not None:
            _copy_rows(
                cursor,
                HrmAttempt,
                template_attempt.pk,
                {
                    "report_id": f"{template_report.pk} + g",
                    "finished_at": "now() - (g * 30 || ' seconds')::interval",
                },
                REPORTS,
            )
    # As autovacuum would after a bulk load: fresh statistics and visibility map.
    connection.ensure_connection()
    previous = connection.connection.autocommit
    connection.connection.autocommit = True
    with connection.cursor() as cursor:
        for model in (Referral, Message, HrmReport, HrmAttempt):
            cursor.execute(f'VACUUM ANALYZE "{model._meta.db_table}"')
    connection.connection.autocommit = previous


def _burst(world) -> None:
    """One patient's reports dated after now: each part of a long message adds a second."""
    from django.db import connection

    from hrm.models import HrmReport
    from tests.factories import make_referral

    burst = make_referral(
        world.referrer,
        world.practice_listing,
        world.cardiology,
        patient_first_name="Burst",
        patient_health_card_number="9999999999",
    )
    message = burst.messages.create(author=world.referrer, text="burst")
    template = HrmReport.objects.order_by("-pk").first()
    with connection.cursor() as cursor:
        _copy_rows(
            cursor,
            HrmReport,
            template.pk,
            {
                "message_id": str(message.pk),
                "transaction_id": "transaction_id || '-burst-' || g",
                "event_at": "now() + (g || ' seconds')::interval",
                "patient_card_key": "'card:9999999999'",
                "patient_name_key": "'name:tremblay|burst'",
            },
            BURST,
        )
        cursor.execute('ANALYZE "hrm_hrmreport"')


def _measure(live, support, clinician) -> dict[str, float]:
    from django.db import connection
    from django.test import Client

    from hrm.delivery.selectors.due import reports_due_alongside
    from hrm.delivery.services.claim import reports_claim
    from hrm.models import HrmReport
    from referrals import services

    staff, doctor = Client(), Client()
    staff.force_login(support)
    doctor.force_login(clinician)
    transaction_id = HrmReport.objects.order_by("pk").values_list("transaction_id", flat=True)[0]
    cases = {
        "support dashboard": lambda: staff.get("/admin/hrm/console/dashboard/"),
        "admin list of reports": lambda: staff.get("/admin/hrm/hrmreport/"),
        "admin search, Transaction ID": lambda: _search(staff, transaction_id),
        "admin search, Professional ID": lambda: _search(staff, "CPSO 12345"),
        "referral page": lambda: doctor.get(f"/referrals/{live.referral.pk}/"),
    }
    figures = {}
    for name, request in cases.items():
        if os.environ.get("BENCH_SCALE_QUERIES"):
            _slowest_queries(name, request)
        request()  # warm
        timings, sql = [], []
        for _ in range(RUNS):
            spent = [0.0]

            def timed(execute, *args, spent=spent):
                started = time.perf_counter()
                try:
                    return execute(*args)
                finally:
                    spent[0] += time.perf_counter() - started

            started = time.perf_counter()
            with connection.execute_wrapper(timed):
                response = request()
            timings.append(time.perf_counter() - started)
            sql.append(spent[0])
            assert response.status_code == 200, (name, response.status_code)
        figures[name] = statistics.median(timings) * 1000
        figures[f"{name} (SQL)"] = statistics.median(sql) * 1000
    sends, claims = [], []
    for n in range(RUNS + 1):
        started = time.perf_counter()
        message = services.message_post(
            referral=live.referral, author=live.world.specialist, text=f"Send {n}"
        )
        sent = time.perf_counter() - started
        ids = list(HrmReport.objects.filter(message=message).values_list("pk", flat=True))
        started = time.perf_counter()
        reports_claim([*ids, *reports_due_alongside(ids)])  # as a worker's task claims
        claimed = time.perf_counter() - started
        if n:  # the first warms
            sends.append(sent)
            claims.append(claimed)
    figures["claim"] = statistics.median(claims) * 1000
    figures["Send"] = statistics.median(sends) * 1000
    return figures


def _search(client, words: str):
    """The search box: posted, then the list it redirects to (both timed)."""
    return client.post("/admin/hrm/hrmreport/", {"_search": "1", "q": words}, follow=True)


def _slowest_queries(name, request) -> None:
    from django.db import connection

    timings = []

    def timed(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            timings.append((time.perf_counter() - started, sql))

    with connection.execute_wrapper(timed):
        request()
    for seconds, sql in sorted(timings, reverse=True)[:3]:
        print(f"  {name}: {seconds * 1000:.1f} ms  {sql[:300]}")


def run() -> int:
    from types import SimpleNamespace

    from referrals import services
    from tests.delivery_fixtures import make_live
    from tests.factories import make_referral, make_user, make_world

    world = make_world()
    referral = make_referral(world.referrer, world.practice_listing, world.intake_listing)
    services.referral_forward(referral=referral, to_listing=world.cardiology, actor=world.intake)
    make_live(world)
    live = SimpleNamespace(world=world, referral=referral)
    # A page's worth of reports (two per message) even "empty": the list renders the same
    # hundred rows in both cases, so the comparison is of the database's part.
    for n in range(PAGE // 2):
        services.message_post(referral=referral, author=world.specialist, text=f"Page {n}.")
    support = make_user(username="bench.support", is_staff=True, is_superuser=True)
    clinician = live.world.specialist
    empty = _measure(live, support, clinician)
    started = time.perf_counter()
    _fill(world, live)
    print(
        f"{REPORTS} reports, {REPORTS} attempts, {MESSAGES} messages made in "
        f"{time.perf_counter() - started:.0f} s"
    )
    full = _measure(live, support, clinician)
    _burst(world)
    burst = _measure(live, support, clinician)
    failed = 0
    print(f"{'':32} {'empty':>9} {'full':>9} {'burst':>9}  target")
    for name in empty:
        if name.endswith("(SQL)"):
            continue
        worst = max(full[name], burst[name])
        ok = worst <= max(2 * empty[name], 200)
        failed += not ok
        print(
            f"{name:32} {empty[name]:7.1f}ms {full[name]:7.1f}ms {burst[name]:7.1f}ms  "
            f"{'met' if ok else 'NOT MET'}"
        )
        sql = f"{name} (SQL)"
        if sql in empty:
            print(
                f"{'  of which SQL':32} {empty[sql]:7.1f}ms {full[sql]:7.1f}ms {burst[sql]:7.1f}ms"
            )
    return 1 if failed else 0


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as workdir:
        redis = PrivateRedis(Path(workdir))
        redis.start()
        try:
            with throwaway_django(
                f"bench_scale_{os.getpid()}",
                ALLOWED_HOSTS="testserver",
                TEST_CELERY_BROKER_URL=redis.url,
                PRIVATE_MEDIA_ROOT=str(Path(workdir) / "private"),
            ):
                return run()
        finally:
            redis.stop()


if __name__ == "__main__":
    sys.exit(main())
