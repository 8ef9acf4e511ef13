"""How long pressing Send takes with two live HRM stakeholders, next to the same request with no
live stakeholder: HRM must add nothing a clinician notices (target ratio at most 1.2).

Run from the repository root: ``.venv/bin/python bench/send.py``. It uses a throwaway PostgreSQL
database and a private Redis on loopback (the publish to the broker is part of the request, as in
production; no worker runs, so nothing is uploaded). Each request posts a typed message and a
200 KB PDF through the real view, middleware and form; the two cases alternate.
"""

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _support import throwaway_django

REQUESTS = int(os.environ.get("BENCH_SEND_REQUESTS", "100"))
WARM_UP = 5
TARGET_RATIO = 1.2


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> int:
    from tests.processes import PrivateRedis

    with tempfile.TemporaryDirectory(prefix="bench-send-") as workdir:
        redis = PrivateRedis(Path(workdir))
        redis.start()
        try:
            with throwaway_django(
                f"bench_send_{os.getpid()}",
                TEST_CELERY_BROKER_URL=redis.url,
                ALLOWED_HOSTS="testserver",
            ):
                return run()
        finally:
            redis.stop()


def run() -> int:
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test import Client

    from referrals import services
    from referrals.composer import composer_token_issue
    from referrals.sample_files import consultation_letter_pdf
    from tests.delivery_fixtures import make_live
    from tests.factories import make_listing, make_referral, make_world

    world = make_world()
    make_live(world)
    live = make_referral(world.referrer, world.practice_listing, world.intake_listing)
    services.referral_forward(referral=live, to_listing=world.cardiology, actor=world.intake)
    # The same shape (a referring practice, a central intake, the cardiology) with stakeholders
    # that are not live on HRM: the same emails and queries, minus HRM.
    other_practice = make_listing(world.stranger_listing.site, "Another practice")
    other_intake = make_listing(world.intake_listing.site, "Another intake")
    not_live = make_referral(world.stranger, other_practice, other_intake)
    services.referral_forward(referral=not_live, to_listing=world.cardiology, actor=world.intake)
    pdf = consultation_letter_pdf(["Consultation letter"], padding_bytes=200 * 1024)
    client = Client()
    client.force_login(world.specialist)

    def send(referral) -> float:
        upload = SimpleUploadedFile("Consultation letter.pdf", pdf, "application/pdf")
        # The once-only token the referral page puts in its form (issued before the clock).
        token = composer_token_issue(world.specialist, referral)
        started = time.perf_counter()
        response = client.post(
            f"/referrals/{referral.pk}/messages/",
            {"composer": token, "text": "Seen today.", "files": [upload]},
        )
        elapsed = time.perf_counter() - started
        assert response.status_code == 302, response.status_code
        return elapsed

    for _ in range(WARM_UP):
        send(live), send(not_live)
    timings = {"live": [], "not_live": []}
    for _ in range(REQUESTS):
        timings["live"].append(send(live))
        timings["not_live"].append(send(not_live))
    reports = live.messages.last().hrm_reports.count()
    assert reports == 4 and not not_live.messages.last().hrm_reports.exists()

    print(f"Send with a typed message and a 200 KB PDF, {REQUESTS} requests each (PostgreSQL)")
    for name, label in (
        ("live", "two live stakeholders (4 reports)"),
        ("not_live", "no live stakeholder"),
    ):
        values = [t * 1000 for t in timings[name]]
        print(
            f"  {label:<36} median {statistics.median(values):7.1f} ms   "
            f"p95 {percentile(values, 0.95):7.1f} ms"
        )
    ratio = statistics.median(timings["live"]) / statistics.median(timings["not_live"])
    ratio95 = percentile(timings["live"], 0.95) / percentile(timings["not_live"], 0.95)
    print(f"  ratio (median)  {ratio:.2f}   ratio (p95) {ratio95:.2f}   target <= {TARGET_RATIO}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
