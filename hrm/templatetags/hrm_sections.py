"""HRM's sections on directory's pages, so directory imports nothing of HRM:
``{% hrm_sending_section %}`` on the account page, ``{% hrm_listing_status listing %}`` on a
listing's settings."""

from django import template

from hrm.selectors.receivers import listing_is_live_on_hrm
from hrm.selectors.senders import user_sender_statuses

register = template.Library()


@register.inclusion_tag("hrm/_sending_section.html", takes_context=True)
def hrm_sending_section(context):
    """Where the signed-in user stands as an HRM sender at each of their sites, with the button
    that asks support to approve their UPI."""
    return {"statuses": user_sender_statuses(context["request"].user)}


@register.inclusion_tag("hrm/_listing_status.html")
def hrm_listing_status(listing):
    """Whether the listing's clinician is live on HRM, and if not, why."""
    return {"status": listing_is_live_on_hrm(listing)}
