"""A fixed-window counter on Django's cache (Redis in production, so every web process shares
it): enough to bound an anonymous form. django-ratelimit was the alternative; its system checks
do not know Django's own Redis cache, and it would add a dependency for these few lines."""

import hashlib
import time

from django.core.cache import cache


def throttle_exceeded(scope: str, key: str, *, limit: int, window_seconds: int) -> bool:
    """Count one hit for ``key`` in the current window; True once it is past ``limit``."""
    window = int(time.time() // window_seconds)
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    cache_key = f"throttle:{scope}:{digest}:{window}"
    if cache.add(cache_key, 1, timeout=window_seconds + 5):
        return limit < 1
    try:
        return cache.incr(cache_key) > limit
    except ValueError:  # expired between add() and incr(): a new window
        cache.add(cache_key, 1, timeout=window_seconds + 5)
        return limit < 1
