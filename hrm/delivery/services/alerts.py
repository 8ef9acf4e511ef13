"""Alerts about HRM delivery, one per message and failure episode, never one per attempt.

- When a message's delivery finally fails (a part failed and no other part is still on its
  way), one email goes to the sending site's notification address and one to support, naming
  the referral, each failed recipient, the Transaction ID and the error, with a link to
  re-send. Each failed delivery of a report is alerted once (``HrmAlertReport``'s constraint).
- A re-send that fails again is the same episode: kept with the first alert, not emailed. The
  episode ends when every part is sent (the "resolved" note); a failure after that is new.
- Beyond ``HRM_ALERT_DAILY_LIMIT`` failure alerts in a day, or while HRM is down, failures are
  held for the daily digest instead (``alerts_digest_send``, run by beat).
- When a re-send makes every part of an alerted message go out, a "resolved" note follows to
  the same addresses.
- HRM going down, and coming back, is one email each to support.

The emails name no patient: the referral number and the Transaction IDs find everything.
"""

from datetime import datetime, time
from functools import partial

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from hrm.delivery.errors import clinician_error_text, duration_words
from hrm.delivery.services.bulk_resend import report_selection_create
from hrm.models import HrmAlert, HrmAlertReport, HrmHealth, HrmReport
from hrm.support_contacts import mail_each, support_email_addresses
from referrals.models import Message
from referrals.signals import message_delivery_failed

Kind = HrmAlert.Kind
State = HrmAlert.State
Status = HrmReport.Status


def _day_start(now: datetime) -> datetime:
    local = timezone.localtime(now)
    return timezone.make_aware(datetime.combine(local.date(), time.min), local.tzinfo)


def _details_url(message: Message) -> str:
    return settings.SITE_URL + reverse(
        "hrm_delivery:details", args=[message.referral_id, message.pk]
    )


def _resend_url(report_ids, description: str) -> str:
    # The reports are kept under a short key: an outage's digest lists thousands.
    selection = report_selection_create(report_ids, description=description)
    return f"{settings.SITE_URL}{reverse('hrm_console:resend')}?selection={selection.key}"


def _site_address(message: Message) -> str:
    listing = message.author_listing
    return listing.notification_address if listing is not None else ""


def _report_lines(reports, *, for_support: bool) -> str:
    lines = []
    for report in reports:
        pid = report.recipient.clinician_professional_id_display or report.deliver_to_user_id
        lines.append(f"- {report.part_label} to {report.recipient_name} ({pid})")
        lines.append(f"  Transaction ID: {report.transaction_id}")
        if for_support:
            lines.append(f"  Error: {report.last_error}")
            lines.append(f"  Attempts: {report.attempts}")
        else:
            lines.append(f"  What happened: {clinician_error_text(report)}")
    return "\n".join(lines)


def message_failures_alert(message_id: int) -> HrmAlert | None:
    """Alert on a message's failed reports not alerted yet, once none of its parts is still on
    its way. Two workers finishing a message's last parts at once: the message row's lock, and
    the one-alert-per-failed-delivery constraint, make exactly one of them alert."""
    if not HrmReport.objects.filter(message_id=message_id, status=Status.FAILED).exists():
        return None
    now = timezone.now()
    with transaction.atomic():
        message = (
            Message.objects.select_for_update(of=("self",))
            .select_related("author_listing__site", "referral")
            .get(pk=message_id)
        )
        reports = list(
            HrmReport.objects.filter(message=message)
            .select_related("recipient", "attachment")
            .defer("xml")
            .order_by("attachment_id", "recipient_name", "id")
        )
        if any(report.status in (Status.QUEUED, Status.SENDING) for report in reports):
            return None
        alerted = set(
            HrmAlertReport.objects.filter(report__message=message).values_list(
                "report_id", "delivery_started_at"
            )
        )
        failed = [
            report
            for report in reports
            if report.status == Status.FAILED
            and (report.pk, report.delivery_started_at) not in alerted
        ]
        if not failed:
            return None
        episode = (
            HrmAlert.objects.filter(kind=Kind.FAILURE, message=message, resolved_by__isnull=True)
            .order_by("created_at", "id")
            .first()
        )
        if episode is not None:
            # The message's failure episode was alerted and is not over (no re-send has got
            # every part out yet): a re-send that failed again is kept with that alert, never
            # emailed again. The resolved note, once every part is sent, ends the episode.
            _alert_items_add(episode, failed)
            return None
        emailed_today = HrmAlert.objects.filter(
            kind=Kind.FAILURE, state=State.EMAILED, created_at__gte=_day_start(now)
        ).count()
        hrm_down = HrmHealth.objects.filter(pk=1, state=HrmHealth.State.DOWN).exists()
        held = hrm_down or emailed_today >= settings.HRM_ALERT_DAILY_LIMIT
        site_address = _site_address(message)
        support = support_email_addresses()
        count = len(failed)
        subject = (
            f"HRM delivery failed: referral #{message.referral_id}, message {message.pk} "
            f"({count} report{'s' if count != 1 else ''})"
        )
        site_body = (
            f"A message on referral #{message.referral_id} (sent "
            f"{timezone.localtime(message.created_at):%Y-%m-%d %H:%M}) did not reach "
            f"{'these EMRs' if count != 1 else 'this EMR'} through HRM:\n\n"
            f"{_report_lines(failed, for_support=False)}\n\n"
            f"The message is in eReferrals as always. To re-send, open {_details_url(message)}"
            " and press Re-send (the same file goes under the same Transaction ID, so an EMR "
            "that has it already does not file it twice).\n"
        )
        resend_url = _resend_url(
            (r.pk for r in failed), f"the failed reports of message {message.pk} (alert)"
        )
        support_body = (
            f"HRM delivery failed for message {message.pk} on referral "
            f"#{message.referral_id}, sent by {message.author} for "
            f"{message.author_listing or 'no listing'}:\n\n"
            f"{_report_lines(failed, for_support=True)}\n\n"
            f"Re-send these reports: {resend_url}\n"
            f"The clinician's view: {_details_url(message)}\n"
        )
        alert = HrmAlert.objects.create(
            kind=Kind.FAILURE,
            state=State.HELD if held else State.EMAILED,
            message=message,
            created_at=now,
            subject=subject,
            body=support_body,
            recipients=sorted({site_address, *support} - {""}),
        )
        if not _alert_items_add(alert, failed):
            # Another worker alerted these very failures a moment ago.
            alert.delete()
            return None
        # The author's referral needs review (referrals' Needs Review), once per episode too.
        message_delivery_failed.send(sender=HrmAlert, message_id=message.pk, channel="HRM")
        if not held:
            transaction.on_commit(partial(mail_each, subject, site_body, [site_address]))
            transaction.on_commit(partial(mail_each, subject, support_body, support))
    return alert


def _alert_items_add(alert: HrmAlert, failed: list[HrmReport]) -> bool:
    """Keep each failed delivery with ``alert``; False when another worker kept them first."""
    try:
        with transaction.atomic():
            HrmAlertReport.objects.bulk_create(
                HrmAlertReport(
                    alert=alert,
                    report=report,
                    delivery_started_at=report.delivery_started_at,
                    error=report.last_error,
                )
                for report in failed
            )
    except IntegrityError:
        return False
    return True


def report_delivered_after_resend(report: HrmReport) -> HrmAlert | None:
    """A re-sent report went out: once every part of its message is sent, the failures alerted
    for it are resolved, and whoever was told of them is told so."""
    with transaction.atomic():
        message = (
            Message.objects.select_for_update(of=("self",))
            .select_related("author_listing__site")
            .get(pk=report.message_id)
        )
        statuses = set(HrmReport.objects.filter(message=message).values_list("status", flat=True))
        if statuses != {Status.SENT}:
            return None
        open_alerts = list(
            HrmAlert.objects.filter(kind=Kind.FAILURE, message=message, resolved_by__isnull=True)
        )
        if not open_alerts:
            return None
        told = sorted(
            {a for alert in open_alerts if alert.state != State.HELD for a in alert.recipients}
        )
        transaction_ids = list(
            HrmReport.objects.filter(
                pk__in=HrmAlertReport.objects.filter(alert__in=open_alerts).values("report_id")
            ).values_list("transaction_id", flat=True)
        )
        subject = f"Resolved: HRM delivery of referral #{message.referral_id}, message {message.pk}"
        body = (
            f"Every HRM report of message {message.pk} on referral #{message.referral_id} has "
            "now been sent, after a re-send:\n\n"
            + "\n".join(f"- Transaction ID {tid}" for tid in sorted(transaction_ids))
            + f"\n\nNothing more to do. Details: {_details_url(message)}\n"
        )
        note = HrmAlert.objects.create(
            kind=Kind.RESOLVED,
            state=State.EMAILED if told else State.HELD,
            message=message,
            subject=subject,
            body=body,
            recipients=told,
        )
        HrmAlert.objects.filter(pk__in=[a.pk for a in open_alerts]).update(resolved_by=note)
        if told:
            transaction.on_commit(partial(mail_each, subject, body, told))
    return note


def hrm_outage_alert(health: HrmHealth) -> HrmAlert:
    support = support_email_addresses()
    subject = "HRM is unreachable: deliveries paused"
    body = (
        f"{health.consecutive_failures} HRM deliveries in a row to "
        f"{len(health.streak_recipients)} recipients failed for reasons that are about HRM, "
        "not the reports:\n\n"
        f"  {health.last_error}\n\n"
        "Dispatch is paused and retries on its own, less and less often; a banner tells "
        "clinicians their letters will go when HRM is back. Reports keep their attempts, and "
        "failures meanwhile are held for the daily digest instead of one email each.\n"
        f"Dashboard: {settings.SITE_URL}{reverse('hrm_console:dashboard')}\n"
    )
    alert = HrmAlert.objects.create(
        kind=Kind.OUTAGE, subject=subject, body=body, recipients=support
    )
    mail_each(subject, body, support)
    return alert


def hrm_recovery_alert(down_since) -> HrmAlert:
    support = support_email_addresses()
    lasted = duration_words((timezone.now() - down_since).total_seconds()) if down_since else ""
    subject = "HRM is reachable again: deliveries resumed"
    body = (
        f"A delivery went through after {lasted or 'an outage'}; the queued reports are on "
        f"their way.\nDashboard: {settings.SITE_URL}{reverse('hrm_console:dashboard')}\n"
    )
    alert = HrmAlert.objects.create(
        kind=Kind.RECOVERY, subject=subject, body=body, recipients=support
    )
    mail_each(subject, body, support)
    return alert


def alerts_digest_send(now: datetime | None = None) -> list[HrmAlert]:
    """Send the held failure alerts of days that are over: one digest to support with all of
    them, and one to each sending site with its own."""
    now = now or timezone.now()
    with transaction.atomic():
        held = list(
            HrmAlert.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(kind=Kind.FAILURE, state=State.HELD, created_at__lt=_day_start(now))
            .select_related("message__author_listing__site", "resolved_by")
            .order_by("created_at", "id")
        )
        if not held:
            return []
        items = {}
        for item in (
            HrmAlertReport.objects.filter(alert__in=held)
            .select_related("report__recipient", "report__attachment")
            .order_by("id")
        ):
            items.setdefault(item.alert_id, []).append(item)

        def lines(alerts) -> str:
            out = []
            for alert in alerts:
                resolved = " (resolved since, after a re-send)" if alert.resolved_by_id else ""
                out.append(
                    f"Referral #{alert.message.referral_id}, message {alert.message_id}{resolved}"
                )
                for item in items.get(alert.pk, []):
                    report = item.report
                    out.append(
                        f"- {report.part_label} to {report.recipient_name}: "
                        f"Transaction ID {report.transaction_id}"
                    )
                    out.append(f"  {item.error}")
            return "\n".join(out)

        days = sorted({timezone.localtime(a.created_at).date() for a in held})
        period = f"{days[0]}" if len(days) == 1 else f"{days[0]} to {days[-1]}"
        resend_url = _resend_url(
            (item.report_id for its in items.values() for item in its),
            f"the reports of the daily digest {period}",
        )
        support = support_email_addresses()
        subject = f"HRM daily digest {period}: {len(held)} failed deliveries"
        body = (
            f"{len(held)} messages' HRM deliveries failed ({period}), beyond the "
            f"{settings.HRM_ALERT_DAILY_LIMIT} alerted one by one, or while HRM was down:\n\n"
            f"{lines(held)}\n\n"
            f"Re-send them: {resend_url}\n"
        )
        digest = HrmAlert.objects.create(
            kind=Kind.DIGEST, subject=subject, body=body, recipients=support
        )
        sent = [digest]
        transaction.on_commit(partial(mail_each, subject, body, support))
        by_site: dict[str, list[HrmAlert]] = {}
        for alert in held:
            address = _site_address(alert.message)
            if address:
                by_site.setdefault(address, []).append(alert)
        for address, alerts in by_site.items():
            site_subject = f"HRM daily digest {period}: {len(alerts)} messages not delivered"
            site_body = (
                "These messages did not reach the recipients' EMRs through HRM (they are in "
                "eReferrals as always):\n\n"
                + "\n".join(
                    f"- Referral #{a.message.referral_id}: {_details_url(a.message)}"
                    + (" (resolved since)" if a.resolved_by_id else "")
                    for a in alerts
                )
                + "\n\nOpen each link to see why and to re-send.\n"
            )
            sent.append(
                HrmAlert.objects.create(
                    kind=Kind.DIGEST,
                    subject=site_subject,
                    body=site_body,
                    recipients=[address],
                )
            )
            transaction.on_commit(partial(mail_each, site_subject, site_body, [address]))
        HrmAlert.objects.filter(pk__in=[a.pk for a in held]).update(
            state=State.DIGESTED, digest=digest
        )
    return sent


def alerts_for_report(report: HrmReport):
    return HrmAlert.objects.filter(
        Q(items__report=report) | Q(resolves__items__report=report)
    ).distinct()
