"""The composer's one-time token: one composed message is posted once, however many times it is
submitted (a double click, two tabs, Back after Send then Send again).

The referral page gives each composer a token signed for its user and referral. Send stores the
token's nonce with the message it posted, inside Send's transaction and under the referral's
lock (``services.message_post``): a second post of the same token finds it and posts nothing.
The token rides in a text input the page hides (not ``type=hidden``, not read-only), which
static/js/composer.js marks as changed, so a browser that restores the typed text on Back
restores the token it was composed with too. Without scripts a double submit still posts once."""

import secrets

from django.core import signing
from django.core.exceptions import ValidationError

SALT = "referrals.composer"
TOKEN_MAX_LENGTH = 200
STALE_TEXT = (
    "This page was open from before your last sign-in or is out of date, so nothing was sent. "
    "Your text is kept below: press Send again."
)


def composer_token_issue(user, referral) -> str:
    """A fresh token for ``user``'s composer on ``referral`` (``user`` None: the referrer without
    an account, on their follow page)."""
    return signing.dumps(
        {"u": getattr(user, "pk", None), "r": referral.pk, "n": secrets.token_urlsafe(18)},
        salt=SALT,
    )


def composer_token_nonce(token: str, *, user, referral) -> str:
    """The nonce of a token issued to ``user`` for ``referral``; a ``ValidationError`` (code
    ``stale_composer``) for anything else."""
    try:
        value = signing.loads(token[:TOKEN_MAX_LENGTH], salt=SALT)
    except signing.BadSignature:
        value = None
    if (
        not isinstance(value, dict)
        or value.get("u") != getattr(user, "pk", None)
        or value.get("r") != referral.pk
        or not isinstance(value.get("n"), str)
    ):
        raise ValidationError(STALE_TEXT, code="stale_composer")
    return value["n"]
