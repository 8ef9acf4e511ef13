"""Signals other apps send to referrals, which imports none of them."""

from django.dispatch import Signal

# A delivery channel (HRM) gave up on a message for now: once per failure episode, with
# ``message_id`` and ``channel`` (its name, in the user's words). Its author's referral then
# needs review (``review.review_mark_delivery_failed``).
message_delivery_failed = Signal()
