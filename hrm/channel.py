"""HRM as a delivery channel of the referral thread (``referrals.channels``): Send hands it each
message, it decides and records the message's HRM reports (``message_hrm_dispatch``, which
enqueues them once Send commits); an amended message goes as new versions of those reports and
a withdrawn one as withdrawal versions (``message_hrm_amend``, ``message_hrm_withdraw``); the
referral page shows its icon beside each message and polls ``hrm_delivery:status`` while a
report is on its way (static/js/hrm-status.js)."""

from django.urls import reverse

from hrm.delivery.selectors.messages import message_hrm_eligibility, referral_hrm_views
from hrm.delivery.services.outbox import (
    message_hrm_amend,
    message_hrm_dispatch,
    message_hrm_withdraw,
)
from hrm.reports.text import emr_text_prepare
from referrals.channels import DeliveryChannel, MessageStatus, Route, ThreadStatus

MESSAGE_STATUS_TEMPLATE = "hrm/_thread_message_status.html"


class HrmChannel(DeliveryChannel):
    def text_prepare(self, text):
        # Stored as every EMR shows it: what an HRM file cannot carry is removed, markup guarded.
        return emr_text_prepare(text)

    def message_posted(self, message, *, stakeholders, attachments):
        message_hrm_dispatch(message, stakeholders=stakeholders, attachments=attachments)

    def message_amended(
        self, old_message, new_message, *, actor, stakeholders, attachments, replaced_attachments
    ):
        message_hrm_amend(
            old_message,
            new_message,
            actor=actor,
            stakeholders=stakeholders,
            attachments=attachments,
            replaced_attachments=replaced_attachments,
        )

    def message_withdrawn(self, message, *, actor, reason):
        message_hrm_withdraw(message, actor=actor, reason=reason)

    def recipients_preview(self, *, referral, author, author_listing, stakeholders):
        eligibility = message_hrm_eligibility(
            referral=referral,
            author=author,
            author_listing=author_listing,
            stakeholders=stakeholders,
        )
        routes = {
            item.listing.pk: Route("HRM into their EMR", item.goes, "" if item.goes else item.why)
            for item in eligibility.stakeholders
        }
        if not referral.referrer_signed_in:
            routes[None] = Route(
                "HRM into their EMR",
                False,
                "The referrer was not signed in when sending the eReferral: no HRM copies, to "
                "anyone.",
            )
        return routes

    def thread_status(self, *, referral, messages, viewer):
        views = referral_hrm_views(viewer, referral, messages)
        return ThreadStatus(
            messages={
                pk: MessageStatus(template=MESSAGE_STATUS_TEMPLATE, detail=view)
                for pk, view in views.items()
            },
            attributes={"data-hrm-status-url": reverse("hrm_delivery:status", args=[referral.pk])},
            template="hrm/_thread_announcer.html",
        )
