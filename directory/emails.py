"""The one way the product sends its notification emails (directory's clinician changes,
referrals' notices, the referrer's one-time codes, HRM's sender approvals), here in the lowest
app so every app above uses it.

- One message per address: no recipient sees who else was told.
- The subject is one line: a name saved with a line break must not lose the email.
- A failure (the mail server down, an address refused) is logged and never raised: what the email
  tells of is committed either way, so it must not answer 500 or undo anything. The log names
  what it was about (``about``), never the body, which may carry a one-time code or a link.
- ``email_send_after_commit`` waits for the current transaction to commit (a rolled-back change
  emails no one); ``email_send`` sends now, for a caller outside any transaction that must know
  whether it went (the referrer's code)."""

import logging
from collections.abc import Iterable
from functools import partial

from django.conf import settings
from django.core.mail import send_mass_mail
from django.db import transaction

logger = logging.getLogger(__name__)


def email_send(*, subject: str, body: str, addresses: Iterable[str], about: str) -> bool:
    """Send now; True when every message went (or there was no one to tell)."""
    addresses = sorted({address for address in addresses if address})
    if not addresses:
        return True
    subject = " ".join(subject.split())
    try:
        send_mass_mail(
            [(subject, body, settings.DEFAULT_FROM_EMAIL, [address]) for address in addresses]
        )
    except Exception:
        # Whatever the mail fails on: logged for support, never the request's failure.
        logger.exception("Could not send an email about %s", about)
        return False
    return True


def email_send_after_commit(
    *, subject: str, body: str, addresses: Iterable[str], about: str
) -> None:
    """``email_send`` once the current transaction commits (at once outside one)."""
    transaction.on_commit(
        partial(email_send, subject=subject, body=body, addresses=list(addresses), about=about)
    )
