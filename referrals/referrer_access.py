"""A referrer who was not signed in follows and answers their referral's thread by proving they
hold the address they gave: the emailed link opens a page that sends a one-time code to that
address; the code opens the referral for a while in this browser only.

- The link names the referral by its reference (a random UUID), never its number; the page says
  nothing of the referral until the code is given, and says the same for a reference that does
  not exist, so a stranger with the link learns nothing.
- Codes: six digits, kept only as a keyed hash (HMAC with the site's secret), valid
  ``REFERRER_CODE_TTL_SECONDS``, ``REFERRER_CODE_MAX_ATTEMPTS`` tries, one use; a new code
  replaces the previous ones. Requests for codes and tries are throttled per client address
  (and codes per referral, so nobody can flood the referrer's mailbox).
- Access lasts ``REFERRER_ACCESS_SECONDS`` from the code (and ends earlier with the session's
  idle sign-out, or "Sign out"). It is kept in the session, never in a URL.
"""

import hmac
import secrets
import time
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.crypto import salted_hmac

from directory.emails import email_send
from security.client_address import client_address
from security.throttle import throttle_exceeded

from .models import Referral, ReferrerAccessCode
from .notifications import referrer_follow_url

SESSION_KEY = "referrer_access"
_HASH_SALT = "referrals.referrer_access.code"


def _code_hash(referral: Referral, code: str) -> str:
    return salted_hmac(_HASH_SALT, f"{referral.reference}:{code}", algorithm="sha256").hexdigest()


def referral_for_referrer(reference) -> Referral | None:
    """The referral a follow link names, if its referrer was not signed in."""
    return (
        Referral.objects.select_related("target_listing__site")
        .filter(reference=reference, referrer_signed_in=False)
        .exclude(referrer_email="")
        .first()
    )


def _throttled(request: HttpRequest, scope: str, limit: int) -> bool:
    return throttle_exceeded(
        f"referrer-{scope}",
        client_address(request),
        limit=limit,
        window_seconds=settings.REFERRER_CODE_WINDOW_SECONDS,
    )


class SendResult:
    SENT = "sent"  # or a link to no referral: the page says the same
    THROTTLED = "throttled"
    MAIL_FAILED = "mail_failed"


def referrer_code_send(request: HttpRequest, referral: Referral | None) -> str:
    """Email a new code to the referral's referrer (a ``SendResult``). THROTTLED when this
    address (or this referral) asked too often; a link to no referral is answered as a real one.
    Called outside any transaction (a view): the code is stored, then sent at once, so the page
    can say whether it went. MAIL_FAILED when the mail server refused it: the unsent code is
    removed and the earlier code, if any, still works."""
    if _throttled(request, "send", settings.REFERRER_CODE_SENDS_PER_ADDRESS):
        return SendResult.THROTTLED
    if referral is None:
        return SendResult.SENT
    if throttle_exceeded(
        "referrer-send-referral",
        str(referral.pk),
        limit=settings.REFERRER_CODE_SENDS_PER_REFERRAL,
        window_seconds=settings.REFERRER_CODE_WINDOW_SECONDS,
    ):
        return SendResult.THROTTLED
    code = f"{secrets.randbelow(1_000_000):06d}"
    now = timezone.now()
    new_code = ReferrerAccessCode.objects.create(
        referral=referral,
        code_hash=_code_hash(referral, code),
        expires_at=now + timedelta(seconds=settings.REFERRER_CODE_TTL_SECONDS),
    )
    minutes = settings.REFERRER_CODE_TTL_SECONDS // 60
    sent = email_send(
        subject=f"Your code for referral #{referral.pk}",
        body=f"Your one-time code is {code}\n\n"
        f"Enter it on the page you opened ({referrer_follow_url(referral)}) within {minutes} "
        "minutes. If you did not ask for it, ignore this email: nobody can read the referral "
        "without the code.\n",
        addresses=[referral.referrer_email],
        about=f"a one-time code for referral {referral.pk}",
    )
    if not sent:
        new_code.delete()
        return SendResult.MAIL_FAILED
    # One code at a time: the code just sent retires the earlier ones (only earlier: of two
    # asked at once, the later one stays).
    ReferrerAccessCode.objects.filter(
        referral=referral, used_at__isnull=True, pk__lt=new_code.pk
    ).update(used_at=now)
    return SendResult.SENT


class CodeResult:
    OK = "ok"
    WRONG = "wrong"  # wrong, expired, used up or none: the page says the same for each
    THROTTLED = "throttled"


def referrer_code_verify(request: HttpRequest, referral: Referral | None, code: str) -> str:
    """Check a typed code. On success the session (a new key) opens the referral."""
    if _throttled(request, "verify", settings.REFERRER_CODE_TRIES_PER_ADDRESS):
        return CodeResult.THROTTLED
    code = "".join(character for character in code if character.isdigit())
    if referral is None:
        return CodeResult.WRONG
    now = timezone.now()
    with transaction.atomic():
        current = (
            ReferrerAccessCode.objects.select_for_update()
            .filter(referral=referral, used_at__isnull=True, expires_at__gt=now)
            .first()
        )
        if current is None or current.attempts >= settings.REFERRER_CODE_MAX_ATTEMPTS:
            return CodeResult.WRONG
        current.attempts += 1
        if not hmac.compare_digest(current.code_hash, _code_hash(referral, code)):
            current.save(update_fields=["attempts"])
            return CodeResult.WRONG
        current.used_at = now
        current.save(update_fields=["attempts", "used_at"])
    request.session.cycle_key()
    granted = dict(request.session.get(SESSION_KEY, {}))
    granted[str(referral.pk)] = time.time() + settings.REFERRER_ACCESS_SECONDS
    request.session[SESSION_KEY] = granted
    return CodeResult.OK


def referrer_has_access(request: HttpRequest, referral: Referral | None) -> bool:
    if referral is None:
        return False
    until = request.session.get(SESSION_KEY, {}).get(str(referral.pk))
    return until is not None and until > time.time()


def referrer_access_end(request: HttpRequest, referral: Referral | None) -> None:
    """Sign out: this browser needs a new code to read the referral again."""
    granted = dict(request.session.get(SESSION_KEY, {}))
    if referral is not None:
        granted.pop(str(referral.pk), None)
    request.session[SESSION_KEY] = granted
    if not granted:
        request.session.flush()
