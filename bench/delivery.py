"""Reports per second from Send to sent, through a real Celery worker, Redis and SFTP on loopback,
next to a bare paramiko loop uploading the same encrypted files over one connection (target ratio
at least 0.5).

Run from the repository root: ``.venv/bin/python bench/delivery.py``. It uses a throwaway
PostgreSQL database, a private Redis, the sandbox SFTP server (in this process, as in
``bench/hrm_transport.py``) and one `celery worker` process started as docs/delivery.md runs it in
production (prefork, 4 children, persistent database connections; ``BENCH_WORKER_PROCESSES``
changes the number). A process of its own plays the clinicians, as a web server would: it posts
500 messages, each a typed note and a 200 KB PDF, on referrals with two live stakeholders (2,000
reports). The clock runs from the first Send to the last report marked sent. Then this process
uploads the same 2,000 encrypted files with bare paramiko and compares. Bounded: it stops by
itself (a few minutes at most).

``--rtt-ms 20`` puts HRM's server that far away: the worker and the bare loop reach it through
bench/support/delay_proxy.py (half the round trip each way), as bench/multihost.py does.
"""

import argparse
import dataclasses
import io
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _support import throwaway_django
from hrm_transport import bare_sftp
from support.delay_proxy import DelayProxy

from sandbox.sftp_server import SandboxSftpServer
from tests.processes import (
    PrivateRedis,
    kill_process_group,
    sftp_environment,
    start_worker_process,
)

MESSAGES = int(os.environ.get("BENCH_DELIVERY_MESSAGES", "500"))
KEY = "00112233445566778899aabbccddeeff"
TIMEOUT_SECONDS = 900
TARGET_RATIO = 0.5
WORKER_PROCESSES = int(os.environ.get("BENCH_WORKER_PROCESSES", "4"))
PER_REFERRAL = 100  # a referral holds at most 50 MB of attachments


def delayed_login(server: SandboxSftpServer, rtt_ms: float, workdir: Path):
    """The server's login through a delay proxy ``rtt_ms`` away (its key pinned under the proxy's
    address), and the proxy to close at the end."""
    proxy = DelayProxy(("127.0.0.1", 0), (server.login.host, server.login.port), rtt_ms / 2)
    proxy.start()
    port = proxy.server.sockets[0].getsockname()[1]
    key = server.login.known_hosts_file.read_text().split(maxsplit=1)[1]
    known_hosts = workdir / "known_hosts_delayed"
    known_hosts.write_text(f"[127.0.0.1]:{port} {key}")
    login = dataclasses.replace(server.login, port=port, known_hosts_file=known_hosts)
    return login, proxy


def main(rtt_ms: float = 0) -> int:
    with tempfile.TemporaryDirectory(prefix="bench-delivery-") as workdir:
        workdir = Path(workdir)
        redis = PrivateRedis(workdir)
        redis.start()
        server = SandboxSftpServer(workdir / "sftp").start()
        login, proxy = server.login, None
        if rtt_ms:
            login, proxy = delayed_login(server, rtt_ms, workdir)
        environment = {
            "TEST_CELERY_BROKER_URL": redis.url,
            **sftp_environment(login, KEY),
            "PRIVATE_MEDIA_ROOT": str(workdir / "private"),
        }
        try:
            with throwaway_django(f"bench_delivery_{os.getpid()}", **environment) as url:
                worker = start_worker_process(
                    {
                        **environment,
                        "TEST_DATABASE_URL": url,
                        "CONN_MAX_AGE": "60",
                        "CONN_HEALTH_CHECKS": "true",
                    },
                    workdir / "worker.log",
                    name="bench",
                    concurrency=WORKER_PROCESSES,
                )
                try:
                    return run(server, login, rtt_ms)
                finally:
                    kill_process_group(worker)
                    if os.environ.get("BENCH_KEEP_LOG"):  # where to copy the worker's log
                        Path(os.environ["BENCH_KEEP_LOG"]).write_bytes(
                            (workdir / "worker.log").read_bytes()
                        )
        finally:
            if proxy is not None:
                proxy.close()
            server.close()
            redis.stop()


def post_messages(referral_ids: list[int], author_id: int, pdf: bytes, ready, go, done) -> None:
    """The clinicians' side, in a process of its own as a web server would be: post
    ``MESSAGES`` messages once ``go`` is set, then report how long that took."""
    import django

    django.setup()
    from django.core.files.uploadedfile import SimpleUploadedFile

    from directory.models import User
    from referrals import services
    from referrals.models import Referral

    author = User.objects.get(pk=author_id)
    referrals = list(Referral.objects.filter(pk__in=referral_ids).order_by("pk"))
    ready.set()
    go.wait()
    started = time.perf_counter()
    for number in range(MESSAGES):
        services.message_post(
            referral=referrals[number // PER_REFERRAL],
            author=author,
            text=f"Seen today ({number}).",
            files=[SimpleUploadedFile("Consultation letter.pdf", pdf)],
        )
    done.send(time.perf_counter() - started)


def run(server: SandboxSftpServer, login, rtt_ms: float) -> int:
    from django import db

    from hrm.delivery.transports import remote_name_for
    from hrm.models import HrmReport
    from hrm.reports.crypto import report_encrypt
    from referrals import services
    from referrals.sample_files import consultation_letter_pdf
    from tests.delivery_fixtures import make_live
    from tests.factories import make_referral, make_world

    world = make_world()
    make_live(world)
    pdf = consultation_letter_pdf(["Consultation letter"], padding_bytes=200 * 1024)
    expected = 4 * MESSAGES
    referral_ids = []
    for _ in range(-(-MESSAGES // PER_REFERRAL)):
        referral = make_referral(world.referrer, world.practice_listing, world.intake_listing)
        services.referral_forward(
            referral=referral, to_listing=world.cardiology, actor=world.intake
        )
        referral_ids.append(referral.pk)
    db.connections.close_all()
    spawn = multiprocessing.get_context("spawn")
    ready, go, (done_reader, done_writer) = spawn.Event(), spawn.Event(), spawn.Pipe(False)
    poster = spawn.Process(
        target=post_messages,
        args=(referral_ids, world.specialist.pk, pdf, ready, go, done_writer),
    )
    poster.start()
    if not ready.wait(60):
        print("stopped: the posting process did not start", file=sys.stderr)
        poster.kill()
        return 1
    started = time.perf_counter()
    go.set()
    poster.join(TIMEOUT_SECONDS)
    if poster.exitcode != 0 or not done_reader.poll():
        print(f"stopped: the posting process ended with {poster.exitcode}", file=sys.stderr)
        poster.kill()
        return 1
    posted = done_reader.recv()
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while (sent := HrmReport.objects.filter(status="sent").count()) < expected:
        if time.monotonic() > deadline or HrmReport.objects.filter(status="failed").exists():
            print(f"stopped: {sent} of {expected} sent", file=sys.stderr)
            return 1
        time.sleep(0.05)
    elapsed = time.perf_counter() - started
    pipeline_rate = expected / elapsed
    work = sorted(
        (sent_at - attempt_at).total_seconds()
        for sent_at, attempt_at in HrmReport.objects.values_list("sent_at", "last_attempt_at")
    )
    waited = sorted(
        (attempt_at - created_at).total_seconds()
        for attempt_at, created_at in HrmReport.objects.values_list("last_attempt_at", "created_at")
    )

    files = [
        (remote_name_for("BARE-" + transaction_id), report_encrypt(bytes(xml), KEY))
        for transaction_id, xml in HrmReport.objects.values_list("transaction_id", "xml")
    ]
    client, sftp = bare_sftp(login)
    try:
        started = time.perf_counter()
        for name, data in files:
            sftp.putfo(io.BytesIO(data), f"{login.remote_dir}/{name}")
        bare_rate = len(files) / (time.perf_counter() - started)
    finally:
        client.close()

    size = sum(len(data) for _, data in files) / len(files)
    print(
        f"{MESSAGES} messages (typed note + 200 KB PDF) to 2 live stakeholders: {expected} "
        f"reports, {size / 1024:.0f} KB encrypted on average"
        + (f"; HRM {rtt_ms:g} ms away" if rtt_ms else "")
    )
    print(f"  posting took {posted:.1f} s; Send to last report sent {elapsed:.1f} s")
    print(
        f"  per report: claim to sent median {work[len(work) // 2] * 1000:.0f} ms, "
        f"waiting in the queue median {waited[len(waited) // 2] * 1000:.0f} ms"
    )
    print(f"  pipeline (1 worker, {WORKER_PROCESSES} processes)  {pipeline_rate:7.1f} reports/s")
    print(f"  bare paramiko, one connection     {bare_rate:7.1f} uploads/s")
    print(f"  ratio {pipeline_rate / bare_rate:.2f}   target >= {TARGET_RATIO}")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rtt-ms", type=float, default=0, help="HRM's round trip (ms)")
    sys.exit(main(parser.parse_args().rtt_ms))
