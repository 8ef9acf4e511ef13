"""What one ``/metrics`` scrape costs as the tables grow: the collector reads the database at
scrape time (ops/metrics.py), so its cost follows the number of reports and attempts on record.

Run from the repository root: ``.venv/bin/python bench/metrics_scrape.py``. It uses a throwaway
PostgreSQL database and a private Redis, copies one message's reports into ``BENCH_METRICS_REPORTS``
reports (spread over the statuses) with ``BENCH_METRICS_ATTEMPTS`` attempts, analyzes the
tables, and times ``SCRAPES`` scrapes through the test client (the median is printed)."""

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _support import throwaway_django

from tests.processes import PrivateRedis

REPORTS = int(os.environ.get("BENCH_METRICS_REPORTS", "100000"))
ATTEMPTS = int(os.environ.get("BENCH_METRICS_ATTEMPTS", "1000000"))
SCRAPES = 7


def run() -> int:
    from django.db import connection
    from django.test import Client

    from hrm.models import HrmReport
    from referrals import services
    from tests.delivery_fixtures import make_live
    from tests.factories import make_referral, make_world

    world = make_world()
    referral = make_referral(world.referrer, world.practice_listing, world.intake_listing)
    services.referral_forward(referral=referral, to_listing=world.cardiology, actor=world.intake)
    make_live(world)
    message = services.message_post(referral=referral, author=world.specialist, text="Note.")
    template = HrmReport.objects.filter(message=message).first()
    started = time.perf_counter()
    with connection.cursor() as cursor:
        # Copies of one report under new Transaction IDs: one text report per message and
        # recipient is the rule, lifted in this throwaway database only (a partial unique index).
        cursor.execute('DROP INDEX "hrm_report_one_text_report_per_recipient"')
        # Every other column as the template has it, so columns added since need no change here.
        overrides = {
            "transaction_id": "transaction_id || '-' || g",
            "status": "(ARRAY['sent','sent','sent','sent','sent','sent','failed','queued',"
            "'queued','sending'])[1 + g %% 10]",
            "attempts": "1",
            "next_attempt_at": "now()",
            "sending_since": "now() - interval '1 minute'",
            "last_attempt_at": "now()",
            "sent_at": "now()",
            "last_error": "''",
            "delivery_started_at": "now() - (g || ' seconds')::interval",
            "refusals": "0",
        }
        columns = [f.column for f in HrmReport._meta.concrete_fields if not f.primary_key]
        # The model's own column names and fixed expressions: nothing from outside.
        insert = (
            f"INSERT INTO hrm_hrmreport ({', '.join(columns)}) "  # noqa: S608
            f"SELECT {', '.join(overrides.get(c, c) for c in columns)} "
            "FROM hrm_hrmreport, generate_series(1, %s) AS g WHERE id = %s"
        )
        cursor.execute(
            insert,
            [REPORTS, template.pk],
        )
        cursor.execute(
            """
            INSERT INTO hrm_hrmattempt (report_id, number, resend, started_at, finished_at,
                duration_ms, worker, outcome, error_class, error)
            SELECT %s, 1, false, now(), now() - (g || ' seconds')::interval, (g * 37) %% 30000,
                'bench pid 1',
                (ARRAY['sent','sent','sent','sent','sent','sent','sent','retry','retry','failed'])
                    [1 + g %% 10],
                CASE WHEN g %% 10 < 7 THEN '' ELSE
                    (ARRAY['unreachable','permission','authentication'])[1 + g %% 3] END,
                ''
            FROM generate_series(1, %s) AS g
            """,
            [template.pk, ATTEMPTS],
        )
        cursor.execute("ANALYZE hrm_hrmreport; ANALYZE hrm_hrmattempt")
    print(
        f"{REPORTS} reports and {ATTEMPTS} attempts made in {time.perf_counter() - started:.1f} s"
    )
    client = Client()
    timings = []
    for _ in range(SCRAPES):
        started = time.perf_counter()
        response = client.get("/metrics")
        timings.append(time.perf_counter() - started)
        assert response.status_code == 200, response.content
    print(
        f"scrape: median {statistics.median(timings) * 1000:.0f} ms, "
        f"max {max(timings) * 1000:.0f} ms over {SCRAPES} scrapes; "
        f"{len(response.content)} bytes"
    )
    return 0


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="bench-metrics-") as workdir:
        redis = PrivateRedis(Path(workdir))
        redis.start()
        try:
            with throwaway_django(
                f"bench_metrics_{os.getpid()}",
                TEST_CELERY_BROKER_URL=redis.url,
                PRIVATE_MEDIA_ROOT=str(Path(workdir) / "private"),
            ):
                return run()
        finally:
            redis.stop()


if __name__ == "__main__":
    sys.exit(main())
