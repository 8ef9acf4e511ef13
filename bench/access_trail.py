"""What the access trail costs a clinician: the referral page (a thread of 20 messages) through
the real view and middleware, with its access entry written, next to the same request with the
entry switched off. Prints medians, p95s and the ratio; exits non-zero past 1.2.

Run from the repository root: ``.venv/bin/python bench/access_trail.py``. It uses a throwaway
PostgreSQL database; the two cases alternate, so machine load hits both alike.
"""

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _support import throwaway_django

REQUESTS = int(os.environ.get("BENCH_ACCESS_REQUESTS", "300"))
WARM_UP = 10
TARGET_RATIO = 1.2


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> int:
    with throwaway_django(f"bench_access_{os.getpid()}", ALLOWED_HOSTS="testserver"):
        from django.test import Client

        import referrals.views as views
        from audit.models import AccessEntry
        from referrals import services
        from tests.factories import make_referral, make_world

        world = make_world()
        referral = make_referral(world.referrer, world.practice_listing, world.cardiology)
        for number in range(20):
            services.message_post(referral=referral, author=world.specialist, text=f"Note {number}")
        client = Client()
        client.force_login(world.specialist)
        url = referral.get_absolute_url()
        recording = views.referral_access_record

        def without_entry(*args, **kwargs):
            return None

        timings = {"with": [], "without": []}
        for index in range(WARM_UP + REQUESTS):
            for case in ("with", "without"):
                views.referral_access_record = recording if case == "with" else without_entry
                started = time.perf_counter()
                response = client.get(url)
                elapsed = (time.perf_counter() - started) * 1000
                assert response.status_code == 200
                if index >= WARM_UP:
                    timings[case].append(elapsed)
        views.referral_access_record = recording
        entries = AccessEntry.objects.filter(referral_id=referral.pk).count()
    medians = {case: statistics.median(values) for case, values in timings.items()}
    p95 = {case: percentile(values, 0.95) for case, values in timings.items()}
    ratio = medians["with"] / medians["without"]
    print(f"referral page, {REQUESTS} requests each, {entries} access entries written")
    for case in ("with", "without"):
        print(
            f"  {case:>7} the access entry: median {medians[case]:.2f} ms, p95 {p95[case]:.2f} ms"
        )
    print(f"  ratio (median): {ratio:.3f}  (target at most {TARGET_RATIO})")
    return 0 if ratio <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
