"""Who support is, for email: ``HRM_SUPPORT_EMAILS`` when set, otherwise every active staff
member with an email address who can decide HRM sender approvals (the people who already act
on HRM in the admin), so a fresh installation never emails nobody."""

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.mail import send_mass_mail
from django.db.models import Q

logger = logging.getLogger(__name__)


def support_email_addresses() -> list[str]:
    configured = [address.strip() for address in settings.HRM_SUPPORT_EMAILS if address.strip()]
    if configured:
        return sorted(set(configured))
    permission = Permission.objects.filter(
        content_type__app_label="hrm", codename="change_senderapproval"
    ).first()
    deciders = Q(is_superuser=True)
    if permission is not None:
        deciders |= Q(user_permissions=permission) | Q(groups__permissions=permission)
    users = get_user_model().objects.filter(deciders, is_active=True, is_staff=True)
    return sorted(set(users.exclude(email="").values_list("email", flat=True)))


def mail_each(subject: str, body: str, addresses: list[str]) -> list[str]:
    """One email per address (no address sees another); returns the addresses mailed. A mail
    outage is logged, never raised: what it was about is recorded already."""
    addresses = sorted({address for address in addresses if address})
    if not addresses:
        return []
    try:
        # A header is one line: a name saved with a line break must not lose the email.
        subject = " ".join(subject.split())
        send_mass_mail(
            [(subject, body, settings.DEFAULT_FROM_EMAIL, [address]) for address in addresses]
        )
    except Exception:
        # Whatever the mail fails on, what it tells of is committed: log it, never answer 500.
        logger.exception("Could not send HRM email %r", subject)
        return []
    return addresses
