"""What ``/metrics`` reports, read at scrape time.

A custom collector reads the database (and the broker's queue lengths) each time Prometheus
scrapes, rather than counting in process memory: reports are delivered by workers on other
hosts, gunicorn runs several processes, and every one of them would hold only its own share.
The tables already are the record (one row per report and per attempt), so any web process
answers for the whole service, needing no multiprocess folder or push gateway, and the figures
survive restarts. A scrape costs a handful of aggregate queries, each bounded whatever the
history's size: the reports by status as support's dashboard counts them ("sent" estimated above
10,000), the reports still on their way, and this hour's attempts (see docs/observability.md).

Labels are only the product's own fixed words (status, outcome, error class, alert kind, queue
name): never a patient, a clinician, a host or a Transaction ID."""

import functools
import math

from celery import current_app
from django.conf import settings
from django.db.models import Count, Max, Min, Q, Sum
from django.utils import timezone
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from prometheus_client.registry import Collector, CollectorRegistry
from prometheus_client.utils import floatToGoString

from hrm.delivery.selectors.dashboard import hrm_report_counts_by_status
from hrm.models import HrmAlert, HrmAttempt, HrmHealth, HrmReport, ReceiverImport
from ops.readiness import beat_heartbeat_age

PREFIX = "ereferral"
# Attempt durations, in seconds: an upload over loopback takes tens of milliseconds, one that
# runs into the SFTP timeout 20 s, a batch stuck until the soft time limit 120 s.
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120)


def _seconds_since(moment, now) -> float:
    return 0.0 if moment is None else max(0.0, (now - moment).total_seconds())


class DeliveryCollector(Collector):
    def collect(self):
        now = timezone.now()
        yield from self._reports(now)
        yield self._attempts(now)
        yield from self._health()
        yield from self._alerts()
        yield from self._broker()
        yield from self._receivers(now)
        yield from self._beat()

    def _reports(self, now):
        # Support's dashboard's count: "sent", nearly every row, is estimated above 10,000, so a
        # scrape never counts a million rows.
        counts, sent_estimated = hrm_report_counts_by_status()
        by_status = GaugeMetricFamily(
            f"{PREFIX}_hrm_reports",
            "HRM reports (outbox rows) by status; sent is an estimate above 10,000 "
            "(ereferral_hrm_reports_sent_estimated).",
            labels=["status"],
        )
        for status in HrmReport.Status.values:
            by_status.add_metric([status], counts.get(status, 0))
        yield by_status
        yield GaugeMetricFamily(
            f"{PREFIX}_hrm_reports_sent_estimated",
            "1 when the sent reports are estimated from the table's size (above 10,000), else 0.",
            value=1 if sent_estimated else 0,
        )
        # Only the few rows still on their way, along the status index.
        oldest = HrmReport.objects.filter(
            status__in=[HrmReport.Status.QUEUED, HrmReport.Status.SENDING]
        ).aggregate(
            queued=Min("delivery_started_at", filter=Q(status=HrmReport.Status.QUEUED)),
            sending=Min("sending_since", filter=Q(status=HrmReport.Status.SENDING)),
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_hrm_oldest_queued_report_age_seconds",
            "Age of the oldest queued report, since its delivery (or latest re-send) began; "
            "0 when none is queued.",
            value=_seconds_since(oldest["queued"], now),
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_hrm_oldest_sending_report_age_seconds",
            "How long the oldest report in sending has been claimed by a worker; 0 when none.",
            value=_seconds_since(oldest["sending"], now),
        )

    def _attempts(self, now):
        aggregates = {"count": Count("id"), "total_ms": Sum("duration_ms")}
        for index, bound in enumerate(DURATION_BUCKETS):
            aggregates[f"le_{index}"] = Count("id", filter=Q(duration_ms__lte=bound * 1000))
        # This hour's attempts only, along the (outcome, finished_at) index: a scrape reads an
        # hour of them, never the whole history. Every web process starts the hour at the same
        # moment, so each scrape, whichever process answers, reads the same counter, which
        # starts again on the hour (a reset, as rate() and increase() expect of counters).
        rows = (
            HrmAttempt.objects.filter(
                outcome__in=HrmAttempt.Outcome.values, finished_at__gte=_hour_start(now)
            )
            .order_by()
            .values("outcome", "error_class")
            .annotate(**aggregates)
            .order_by("outcome", "error_class")
        )
        family = HistogramMetricFamily(
            f"{PREFIX}_hrm_attempt_duration_seconds",
            "Delivery attempts finished since the hour began and their duration, by outcome "
            "(sent, retry, failed) and error class (none for a sent report); _count is the "
            "number of attempts. Starts again each hour.",
            labels=["outcome", "error_class"],
        )
        # The sent series is always there (0 at the start of a quiet hour), so an alert on it
        # never goes blank.
        empty = {"count": 0, "total_ms": 0, **{f"le_{i}": 0 for i in range(len(DURATION_BUCKETS))}}
        rows = list(rows)
        if not any(r["outcome"] == HrmAttempt.Outcome.SENT and not r["error_class"] for r in rows):
            rows.insert(0, {"outcome": HrmAttempt.Outcome.SENT, "error_class": "", **empty})
        for row in rows:
            buckets = [
                (floatToGoString(bound), row[f"le_{index}"])
                for index, bound in enumerate(DURATION_BUCKETS)
            ]
            buckets.append(("+Inf", row["count"]))
            family.add_metric(
                [row["outcome"], row["error_class"] or "none"],
                buckets,
                sum_value=(row["total_ms"] or 0) / 1000,
            )
        return family

    def _health(self):
        health = HrmHealth.objects.filter(pk=1).first()
        down = health is not None and health.state == HrmHealth.State.DOWN
        yield GaugeMetricFamily(
            f"{PREFIX}_hrm_up",
            "HRM's health as the workers see it: 1 up, 0 down (dispatch paused).",
            value=0 if down else 1,
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_hrm_consecutive_failures",
            "Consecutive delivery failures about HRM itself (not one report).",
            value=health.consecutive_failures if health else 0,
        )

    def _alerts(self):
        counts = dict(
            HrmAlert.objects.order_by()
            .filter(state=HrmAlert.State.EMAILED)
            .values_list("kind")
            .annotate(n=Count("id"))
        )
        sent = CounterMetricFamily(
            f"{PREFIX}_hrm_alerts_sent",
            "Alert emails sent, by kind (failure, resolved, digest, outage, recovery).",
            labels=["kind"],
        )
        for kind in HrmAlert.Kind.values:
            sent.add_metric([kind], counts.get(kind, 0))
        yield sent
        yield GaugeMetricFamily(
            f"{PREFIX}_hrm_alerts_held",
            "Failure alerts held for the next daily digest.",
            value=HrmAlert.objects.filter(state=HrmAlert.State.HELD).count(),
        )

    def _broker(self):
        lengths = broker_queue_lengths(settings.OPS_METRICS_QUEUES)
        yield GaugeMetricFamily(
            f"{PREFIX}_broker_up",
            "1 when the broker answered this scrape, else 0 (and no queue lengths).",
            value=0 if lengths is None else 1,
        )
        if lengths is None:
            return
        family = GaugeMetricFamily(
            f"{PREFIX}_broker_queue_length",
            "Tasks waiting in each broker queue (not counting countdowns not yet due).",
            labels=["queue"],
        )
        for queue, length in lengths.items():
            family.add_metric([queue], length)
        yield family

    def _receivers(self, now):
        last = ReceiverImport.objects.filter(status=ReceiverImport.Status.APPLIED).aggregate(
            at=Max("applied_at")
        )["at"]
        yield GaugeMetricFamily(
            f"{PREFIX}_hrm_receiver_list_age_days",
            "Days since OntarioMD's receiver list was last imported; +Inf if never.",
            value=math.inf if last is None else _seconds_since(last, now) / 86400,
        )

    def _beat(self):
        age = beat_heartbeat_age()
        yield GaugeMetricFamily(
            f"{PREFIX}_beat_heartbeat_age_seconds",
            "Seconds since beat's last heartbeat (run by a default-queue worker); +Inf if none.",
            value=math.inf if age is None else max(0.0, age.total_seconds()),
        )


def _hour_start(now):
    return now.replace(minute=0, second=0, microsecond=0)


def broker_queue_lengths(queues) -> dict[str, int] | None:
    """Each queue's length, or None when the broker cannot be reached."""
    from kombu.exceptions import ChannelError

    lengths = {}
    try:
        with current_app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=5)
            channel = connection.default_channel
            for queue in queues:
                try:
                    lengths[queue] = channel.queue_declare(queue=queue, passive=True).message_count
                except ChannelError:  # never declared: nothing waiting
                    lengths[queue] = 0
    except Exception:  # noqa: BLE001 — any broker failure reads as "broker down"
        return None
    return lengths


@functools.cache
def metrics_registry() -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DeliveryCollector())
    return registry
