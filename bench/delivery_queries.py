"""SQL statements per Send and per delivered report: the load-independent side of
``bench/delivery.py``.

Run from the repository root: ``.venv/bin/python bench/delivery_queries.py``. It uses a throwaway
PostgreSQL database, a private Redis and the sandbox SFTP server. It posts ``MESSAGES`` messages
(a typed note and a 200 KB PDF) on a referral with two live stakeholders through the service, as
``bench/delivery.py`` does, then runs each message's delivery task in this process (what a worker
process runs for it), counting every statement sent to PostgreSQL, by kind.
"""

import os
import re
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _support import throwaway_django

from sandbox.sftp_server import SandboxSftpServer
from tests.processes import PrivateRedis, sftp_environment

MESSAGES = int(os.environ.get("BENCH_QUERIES_MESSAGES", "20"))
KEY = "00112233445566778899aabbccddeeff"


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="bench-queries-") as workdir:
        workdir = Path(workdir)
        redis = PrivateRedis(workdir)
        redis.start()
        server = SandboxSftpServer(workdir / "sftp", consume=True).start()
        try:
            with throwaway_django(
                f"bench_queries_{os.getpid()}",
                TEST_CELERY_BROKER_URL=redis.url,
                PRIVATE_MEDIA_ROOT=str(workdir / "private"),
                **sftp_environment(server.login, KEY),
            ):
                return run()
        finally:
            server.close()
            redis.stop()


def kind(statement: str) -> str:
    """``UPDATE hrm_hrmreport``, ``WITH sent, attempt … SELECT``: each statement's verb and
    first table (one round trip may carry two statements)."""
    kinds = []
    for part in statement.split("; "):
        verb = part.split()[0].upper()
        if verb == "WITH":
            names = ", ".join(re.findall(r"(\w+) AS \(", part))
            last = re.findall(r"\) (INSERT|SELECT|UPDATE) ", part)
            verb = f"WITH {names} … {last[-1] if last else ''}"
        table = re.search(r'(?:FROM|INTO|UPDATE)\s+"([^"]+)"', part)
        kinds.append(f"{verb} {table[1] if table else ''}".strip())
    return " + ".join(kinds)


def run() -> int:
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from hrm.delivery import tasks
    from hrm.models import HrmReport
    from referrals import services
    from referrals.sample_files import consultation_letter_pdf
    from tests.delivery_fixtures import make_live
    from tests.factories import make_referral, make_world

    world = make_world()
    make_live(world)
    referral = make_referral(world.referrer, world.practice_listing, world.intake_listing)
    services.referral_forward(referral=referral, to_listing=world.cardiology, actor=world.intake)
    pdf = consultation_letter_pdf(["Consultation letter"], padding_bytes=200 * 1024)

    def post(number):
        upload = SimpleUploadedFile("Consultation letter.pdf", pdf)
        return services.message_post(
            referral=referral, author=world.specialist, text=f"Seen ({number}).", files=[upload]
        )

    tasks.reports_deliver_task(list(post(-1).hrm_reports.values_list("pk", flat=True)))  # warm
    with CaptureQueriesContext(connection) as sends:
        messages = [post(number) for number in range(MESSAGES)]
    batches = [list(m.hrm_reports.order_by("pk").values_list("pk", flat=True)) for m in messages]
    with CaptureQueriesContext(connection) as deliveries:
        for batch in batches:
            tasks.reports_deliver_task(batch)  # what a worker process runs for the message
    delivered = sum(len(batch) for batch in batches)
    assert HrmReport.objects.filter(status="sent").count() == delivered + 4

    def show(title, statements: Counter, per: int) -> None:
        print(f"{title}: {sum(statements.values()) / per:.2f}")
        for name, count in sorted(statements.items(), key=lambda item: -item[1]):
            print(f"  {count / per:5.2f}  {name}")

    show(
        f"statements per Send ({MESSAGES} Sends, typed note + 200 KB PDF, 2 live stakeholders)",
        Counter(kind(q["sql"]) for q in sends.captured_queries),
        MESSAGES,
    )
    show(
        f"statements per report delivered ({delivered} reports, {len(batches)} tasks)",
        Counter(kind(q["sql"]) for q in deliveries.captured_queries),
        delivered,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
