"""Support's delivery dashboard: the figures, read in a handful of aggregate queries."""

import bisect
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db import connection
from django.db.models import Count, F, Func, IntegerField, Min, Q, Value
from django.utils import timezone

from hrm.models import ErrorClass, HrmAttempt, HrmHealth, HrmReport

Status = HrmReport.Status
DAYS = 30
# Up to this many sent reports are counted exactly; above it "Sent" is the table's size as the
# planner estimates it, less the other statuses (exact), and shown as "about".
SENT_EXACT_UP_TO = 10_000
EXAMPLE_AMONG = 1_000


@dataclass(frozen=True)
class DayCount:
    day: date
    sent: int
    failed: int


@dataclass(frozen=True)
class Ranked:
    label: str
    count: int
    detail: str = ""


@dataclass(frozen=True)
class Dashboard:
    by_status: dict[str, int]
    # "Sent" is an estimate (a million sent reports are not counted on each view).
    sent_is_estimate: bool
    failed_last_24h: int
    # The reports those failures were for, and how many of them are failed now (the others
    # were re-sent since): so the 24-hour figure and "Failed" can be read together.
    failed_last_24h_reports: int
    failed_last_24h_failed_now: int
    oldest_pending_since: datetime | None
    days: list[DayCount]
    top_errors: list[Ranked]
    top_recipients: list[Ranked]
    health: HrmHealth

    @property
    def oldest_pending_seconds(self) -> float | None:
        if self.oldest_pending_since is None:
            return None
        return (timezone.now() - self.oldest_pending_since).total_seconds()

    @property
    def status_rows(self) -> list[tuple[str, str, int]]:
        return [(value, label, self.by_status.get(value, 0)) for value, label in Status.choices]


def _local_day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def hrm_dashboard(now: datetime | None = None, top: int = 5) -> Dashboard:
    """Counts by status now; final failures in the last 24 hours (every delivery that failed
    for good, even one re-sent since), with the reports they were for; the oldest report still
    on its way; reports sent and deliveries failed per day (local days, the last 30 including
    today); the most frequent errors and recipients among the reports failed now; and HRM's
    health."""
    now = now or timezone.now()
    by_status, sent_is_estimate = hrm_report_counts_by_status()
    failures = HrmAttempt.objects.filter(outcome=HrmAttempt.Outcome.FAILED)
    recent_failures = failures.filter(finished_at__gt=now - timedelta(hours=24))
    failed_last_24h = recent_failures.count()
    recent_reports = HrmReport.objects.filter(pk__in=recent_failures.values("report_id")).aggregate(
        reports=Count("id"), failed_now=Count("id", filter=Q(status=Status.FAILED))
    )
    oldest = HrmReport.objects.filter(status__in=[Status.QUEUED, Status.SENDING]).aggregate(
        since=Min("delivery_started_at")
    )["since"]

    today = timezone.localtime(now).date()
    first = today - timedelta(days=DAYS - 1)
    # Each row is placed among the 31 local midnights by a binary search (width_bucket), read
    # from the time's index alone: no time-zone arithmetic per row, nothing outside the 30 days.
    edges = [_local_day_start(first + timedelta(days=n)) for n in range(DAYS + 1)]
    sent = _per_day(HrmReport.objects.all(), "sent_at", edges)
    failed = _per_day(failures, "finished_at", edges)
    days = [
        DayCount(first + timedelta(days=n), sent.get(n + 1, 0), failed.get(n + 1, 0))
        for n in range(DAYS)
    ]

    failed_now = HrmReport.objects.filter(status=Status.FAILED).order_by()
    # By the class stored on each report (a handful of classes), each with its most frequent
    # text as the example: grouped in SQL, never a loop over every failed report.
    by_class = sorted(
        (
            (ErrorClass(error_class or ErrorClass.UNEXPECTED).label, count, error_class)
            for error_class, count in failed_now.values_list("error_class").annotate(
                n=Count("error_class")
            )
        ),
        key=lambda row: (-row[1], row[0]),
    )[:top]
    top_errors = [
        Ranked(label, count, _most_frequent_error(failed_now.filter(error_class=error_class)))
        for label, count, error_class in by_class
    ]
    from directory.professional_id import professional_id_display

    by_recipient = (
        failed_now.values_list("recipient_name", "deliver_to_user_id")
        .annotate(n=Count("recipient_name"))
        .order_by("-n", "recipient_name")[:top]
    )
    top_recipients = [
        Ranked(name, count, professional_id_display(deliver_to) or deliver_to)
        for name, deliver_to, count in by_recipient
    ]
    health, _ = HrmHealth.objects.get_or_create(pk=1)
    return Dashboard(
        by_status=by_status,
        sent_is_estimate=sent_is_estimate,
        failed_last_24h=failed_last_24h,
        failed_last_24h_reports=recent_reports["reports"],
        failed_last_24h_failed_now=recent_reports["failed_now"],
        oldest_pending_since=oldest,
        days=days,
        top_errors=top_errors,
        top_recipients=top_recipients,
        health=health,
    )


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    height: float
    width: float
    value: int
    day: date
    kind: str


def dashboard_chart(days: list[DayCount], width: int = 720, height: int = 200) -> dict:
    """Geometry of the sent/failed bar chart, drawn as inline SVG by the template: two bars a
    day, scaled to the busiest day, with a few gridlines."""
    top = max([d.sent for d in days] + [d.failed for d in days] + [1])
    # A round top whose half is a whole number too: 2, 4, 6, 8, 10, 20, 40, …
    scale = 1
    while True:
        ceiling = next((n * scale for n in (2, 4, 6, 8, 10) if n * scale >= top), None)
        if ceiling:
            break
        scale *= 10
    left, right, bottom, plot_h = 40, 24, 24, height - 34
    slot = (width - left - right) / len(days)
    bar_w = max(slot / 2 - 1, 1)
    bars = []
    for n, day in enumerate(days):
        for offset, kind, value in ((0, "sent", day.sent), (1, "failed", day.failed)):
            h = plot_h * value / ceiling
            bars.append(
                Bar(
                    x=round(left + n * slot + offset * bar_w, 1),
                    y=round(height - bottom - h, 1),
                    height=round(h, 1),
                    width=round(bar_w, 1),
                    value=value,
                    day=day.day,
                    kind=kind,
                )
            )
    grid = [
        {"y": round(height - bottom - plot_h * f, 1), "label": int(ceiling * f)}
        for f in (0, 0.5, 1)
    ]
    labels = [
        {"x": round(left + n * slot + slot / 2, 1), "text": day.day.strftime("%b %-d")}
        for n, day in enumerate(days)
        if n % 5 == 0 or n == len(days) - 1
    ]
    return {
        "width": width,
        "height": height,
        "bars": bars,
        "grid": grid,
        "labels": labels,
        "left": left,
        "right": width - right,
        "axis_y": height - bottom,
    }


def _most_frequent_error(reports) -> str:
    """The most frequent text among the class's latest ``EXAMPLE_AMONG`` failures (an example:
    what the class looks like lately, not a census of every failed report)."""
    texts = Counter(
        reports.order_by("-last_attempt_at").values_list("last_error", flat=True)[:EXAMPLE_AMONG]
    )
    return min(texts.items(), key=lambda item: (-item[1], item[0]))[0] if texts else ""


def _per_day(rows, column: str, edges: list[datetime]) -> dict[int, int]:
    """Rows per day by ``column``, keyed 1 for the first day to len(edges) - 1 for the last."""
    if connection.vendor == "postgresql":
        return _per_day_postgresql(rows, column, edges)
    return _per_day_orm(rows, column, edges)


def _per_day_orm(rows, column: str, edges: list[datetime]) -> dict[int, int]:
    """Each time read and placed among the midnights here (the demo's SQLite, which has no
    ``width_bucket``, and a few reports)."""
    counts = Counter(
        bisect.bisect_right(edges, at)
        for at in rows.filter(**{f"{column}__gte": edges[0], f"{column}__lt": edges[-1]})
        .values_list(column, flat=True)
        .iterator()
    )
    return dict(counts)


def _per_day_postgresql(rows, column: str, edges: list[datetime]) -> dict[int, int]:
    """Counted in the database, each time placed among the midnights by ``width_bucket``, along
    the indexed column: no row is read into Python (a day has thousands of reports)."""
    day = Func(F(column), Value(edges), function="width_bucket", output_field=IntegerField())
    return dict(
        rows.filter(**{f"{column}__gte": edges[0], f"{column}__lt": edges[-1]})
        .annotate(day=day)
        .order_by()
        .values_list("day")
        .annotate(n=Count(column))
    )


def hrm_report_counts_by_status() -> tuple[dict[str, int], bool]:
    """Reports by status, and whether "sent" is an estimate (support's dashboard and
    ``/metrics``, which read it on every view and every scrape). Every status but "sent" counted
    exactly along the status index (they are the few reports still on their way, failed or
    cancelled); "sent", nearly every row, exactly only while it is small, else estimated: the
    table's rows as the planner estimates them, less the others."""
    others = [value for value in Status.values if value != Status.SENT]
    by_status = dict(
        HrmReport.objects.filter(status__in=others)
        .order_by()
        .values_list("status")
        .annotate(n=Count("status"))  # the indexed column: read from the index alone
    )
    sent = (
        HrmReport.objects.filter(status=Status.SENT)
        .order_by()
        .values("pk")[: SENT_EXACT_UP_TO + 1]
        .count()
    )
    if sent <= SENT_EXACT_UP_TO:
        by_status[Status.SENT] = sent
        return by_status, False
    by_status[Status.SENT] = max(_estimated_rows(HrmReport) - sum(by_status.values()), sent)
    return by_status, True


def _estimated_rows(model) -> int:
    """The rows of ``model``'s table, estimated where the database keeps an estimate."""
    if connection.vendor == "postgresql":
        return _estimated_rows_postgresql(model)
    return _estimated_rows_orm(model)


def _estimated_rows_orm(model) -> int:
    """Counted (the demo's SQLite, whose tables stay small)."""
    return model.objects.count()


def _estimated_rows_postgresql(model) -> int:
    """The rows of ``model``'s table as PostgreSQL's planner reckons them: rows per page at the
    last ANALYZE or VACUUM times the pages the table has now (so it follows growth since), read
    from the catalogue rather than counted (counting a million reports was what made the
    dashboard slow: docs/benchmarks.md, "Support's dashboard at a million reports")."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples, relpages, pg_relation_size(oid) / current_setting('block_size')::int"
            " FROM pg_class WHERE oid = %s::regclass",
            [model._meta.db_table],
        )
        tuples, pages, pages_now = cursor.fetchone()
    if tuples < 0 or pages <= 0:  # never analysed
        return 0
    return round(tuples / pages * pages_now)
