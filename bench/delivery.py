"""Delivery alone: reports per second from the first claim to the last report sent, on one SFTP
connection, next to a bare paramiko loop putting the same encrypted files over the same path.

Run from the repository root: ``.venv/bin/python bench/delivery.py [--rtt-ms N]``. It uses a
throwaway PostgreSQL database, a private Redis and the sandbox SFTP server (in this process, on
loopback, keeping what it gets). ``--rtt-ms N`` puts HRM's server N ms away: the worker and the
bare loop reach it through bench/support/delay_proxy.py (half the round trip each way, in this
process too), which also counts the round trips each client waited for.

What it measures, in order:

1. The messages are posted first, with no worker running (a typed note and a 200 KB PDF each,
   on referrals with two live stakeholders: four reports, one batch, one broker message per
   message). Send publishes as in production, and the broker holds the batches.
2. One ``celery worker`` starts as docs/delivery.md runs it (prefork, prefetch 1, persistent
   database connections) with ONE pool process, so one SFTP connection: the headline figure.
   The clock runs from the first claim (the first attempt's start, on record) to the last
   report marked sent; the worker's start-up and the posting are outside it, the SFTP connection's
   set-up inside (once).
3. A process of its own uploads the same encrypted files with a bare paramiko ``putfo`` loop
   (open, pipelined writes, close, confirming stat; no ``.part``, no rename, no database) over
   one connection through the same proxy: files/s.

It prints reports/s, the bare loop's files/s, their ratio, round trips per report for each (at the
proxy: ``RoundTrips`` in delay_proxy.py; not measurable on loopback), the CPU per report of the
worker and of this process (the SFTP server and the proxy), and the issue's goals on one connection,
each met or not: at least 0.8 times the bare loop on loopback, 2.5 at 20 ms, 4 at 80 ms. The exit
status is non-zero when the goal for the round trip asked for is not met (other round trips have
none).

What bounds the figure: on loopback, CPU (two cores shared by the worker, PostgreSQL, the SFTP
server and Redis: the worker's and the SFTP server's CPU per report are printed, next to the wall
time per report); with HRM away, the round trips the worker waits for per report times the RTT
(printed as the rate the round trips alone allow, and the share of it reached); never the SSH window
(2 MB, paramiko's and asyncssh's) for these files of 5 to 280 KB. The bare loop is bound the same
way by its three to four round trips per file. Both clients leave Nagle's algorithm on (paramiko's
default), which the proxy models only in part (see delay_proxy.py).

HRM's server has a disk of its own. The sandbox server keeps its folder in memory (``/dev/shm``,
where the machine has one): on the disk PostgreSQL writes to, each file it creates waited behind
the WAL of the reports delivery was storing at the time (the server's CPU per report rose from
1.0 ms to 1.7), while the bare loop ran with PostgreSQL idle; the two figures then varied with the
disk, not with the clients. ``--server-on-disk`` puts the folder beside the database as before.

Bounded: the default number of messages shrinks with the round trip so a run takes about three
minutes at most (500 on loopback, 4000 / RTT ms otherwise: 200 at 20 ms, 50 at 80 ms);
``BENCH_DELIVERY_MESSAGES`` or ``--messages`` sets it. ``BENCH_WORKER_PROCESSES`` (or
``--processes``) above 1 adds a second figure: another set of messages, delivered by a worker with
that many pool processes (one connection each). ``BENCH_KEEP_LOG``: a file to copy the worker's
log to.
"""

import argparse
import dataclasses
import io
import logging
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
    log_tail,
    sftp_environment,
    start_worker_process,
)

KEY = "00112233445566778899aabbccddeeff"
PHASE_SECONDS = 600
PER_REFERRAL = 100  # a referral holds at most 50 MB of attachments
GOALS = {0: 0.8, 20: 2.5, 80: 4.0}  # issue 22, on one connection: RTT ms -> reports/s ÷ files/s


def default_messages(rtt_ms: float) -> int:
    """About three minutes at most, whatever the round trip (see the docstring)."""
    return 500 if not rtt_ms else max(25, min(500, int(4000 / rtt_ms)))


def delayed_login(server: SandboxSftpServer, rtt_ms: float, workdir: Path):
    """The server's login through a delay proxy ``rtt_ms`` away (its key pinned under the proxy's
    address), and the proxy to close at the end."""
    proxy = DelayProxy(("127.0.0.1", 0), (server.login.host, server.login.port), rtt_ms / 2)
    proxy.start()
    key = server.login.known_hosts_file.read_text().split(maxsplit=1)[1]
    known_hosts = workdir / "known_hosts_delayed"
    known_hosts.write_text(f"[127.0.0.1]:{proxy.port} {key}")
    login = dataclasses.replace(server.login, port=proxy.port, known_hosts_file=known_hosts)
    return login, proxy


MEMORY_FOLDERS = Path("/dev/shm")


def main(rtt_ms: float, messages: int, processes: int, *, server_on_disk: bool) -> int:
    in_memory = not server_on_disk and MEMORY_FOLDERS.is_dir()
    with (
        tempfile.TemporaryDirectory(prefix="bench-delivery-") as workdir,
        tempfile.TemporaryDirectory(
            prefix="bench-delivery-hrm-", dir=MEMORY_FOLDERS if in_memory else None
        ) as server_folder,
    ):
        workdir = Path(workdir)
        redis = PrivateRedis(workdir)
        redis.start()
        server = SandboxSftpServer(Path(server_folder) / "sftp").start()
        server_disk = "in memory" if in_memory else "on the database's disk"
        print(f"HRM's folder {server_disk}: {server_folder}", flush=True)
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
                bench = Bench(workdir, login, proxy, rtt_ms, messages, redis)
                bench.worker_environment = {
                    **environment,
                    "TEST_DATABASE_URL": url,
                    "CONN_MAX_AGE": "60",
                    "CONN_HEALTH_CHECKS": "true",
                }
                return bench.run(processes)
        finally:
            if proxy is not None:
                proxy.close()
            server.close()
            redis.stop()


def _worker_cpu_seconds(group: int) -> float:
    """User and system CPU so far of every live process in the worker's process group."""
    ticks = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == group:  # pgrp
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def bare_put(login, folder: str, ready, go, finish, result) -> None:
    """The baseline, in a process of its own (as the worker is): connect, then on ``go`` put
    every file of ``folder`` with ``putfo`` in name order over that one connection; send the
    seconds it took; close once ``finish`` is set (so the closing packets are not counted)."""
    files = sorted(Path(folder).iterdir())
    client, sftp = bare_sftp(login)
    try:
        sftp.putfo(io.BytesIO(b"x" * 32), f"{login.remote_dir}/warm-up-bare.xml.enc")
        ready.set()
        go.wait()
        started = time.perf_counter()
        for path in files:
            sftp.putfo(io.BytesIO(path.read_bytes()), f"{login.remote_dir}/{path.name}")
        result.send(time.perf_counter() - started)
        finish.wait(60)
    finally:
        client.close()


@dataclasses.dataclass
class Figures:
    reports: int
    seconds: float
    round_trips: int
    cpu: float
    server_cpu: float  # this process: the SFTP server and the proxy (and its own polling)
    retried: int

    @property
    def rate(self) -> float:
        return self.reports / self.seconds


class Bench:
    def __init__(self, workdir, login, proxy, rtt_ms, messages, redis):
        self.workdir = workdir
        self.login = login
        self.proxy = proxy
        self.rtt_ms = rtt_ms
        self.messages = messages
        self.redis = redis
        self.worker_environment: dict[str, str] = {}
        self.posted = 0

    def round_trips(self) -> int:
        return self.proxy.round_trips if self.proxy is not None else 0

    def setup(self) -> None:
        from referrals import services
        from referrals.sample_files import consultation_letter_pdf
        from tests.delivery_fixtures import make_live
        from tests.factories import make_referral, make_world

        self.world = make_world()
        make_live(self.world)
        self.pdf = consultation_letter_pdf(["Consultation letter"], padding_bytes=200 * 1024)
        self.referrals = []

        def referral():
            made = make_referral(
                self.world.referrer, self.world.practice_listing, self.world.intake_listing
            )
            services.referral_forward(
                referral=made, to_listing=self.world.cardiology, actor=self.world.intake
            )
            return made

        self._referral = referral

    def post(self) -> float:
        """Post a set of messages, with no worker running; the seconds it took."""
        from django.core.files.uploadedfile import SimpleUploadedFile

        from referrals import services

        started = time.perf_counter()
        for _ in range(self.messages):
            if self.posted % PER_REFERRAL == 0:
                self.referrals.append(self._referral())
            services.message_post(
                referral=self.referrals[-1],
                author=self.world.specialist,
                text=f"Seen today ({self.posted}).",
                files=[SimpleUploadedFile("Consultation letter.pdf", self.pdf)],
            )
            self.posted += 1
        return time.perf_counter() - started

    def deliver(self, processes: int, tag: str) -> Figures:
        """Post a set, start a worker with ``processes`` pool processes, time the set from its
        first claim to its last report sent, and stop the worker."""
        import redis as redis_client
        from django import db
        from django.db.models import Max, Min

        from hrm.models import HrmAttempt, HrmReport

        last = HrmReport.objects.aggregate(last=Max("pk"))["last"] or 0
        posting = self.post()
        reports = HrmReport.objects.filter(pk__gt=last)
        expected = reports.count()
        waiting = redis_client.Redis.from_url(self.redis.url).llen("hrm")
        print(
            f"  {tag}: posted {self.messages} messages in {posting:.1f} s: {expected} reports, "
            f"{waiting} batches waiting in the broker",
            flush=True,
        )
        db.connections.close_all()
        log = self.workdir / f"worker-{tag.replace(' ', '')}.log"
        before_trips = self.round_trips()
        worker = start_worker_process(
            self.worker_environment,
            log,
            name="bench-" + tag.replace(" ", ""),
            concurrency=processes,
        )
        try:
            deadline = time.monotonic() + PHASE_SECONDS
            while not reports.exclude(status="queued").exists():
                self._check(worker, log, deadline, "the first claim")
                time.sleep(0.02)
            cpu_before = _worker_cpu_seconds(worker.pid)
            here_before = time.process_time()
            while (sent := reports.filter(status="sent").count()) < expected:
                if reports.filter(status="failed").exists():
                    raise RuntimeError(
                        f"a report failed: {reports.filter(status='failed')[0].last_error}"
                    )
                self._check(worker, log, deadline, f"every report sent ({sent} of {expected})")
                time.sleep(0.05)
            cpu = _worker_cpu_seconds(worker.pid) - cpu_before
            here = time.process_time() - here_before
            trips = self.round_trips() - before_trips
        finally:
            kill_process_group(worker)
            if os.environ.get("BENCH_KEEP_LOG"):
                with Path(os.environ["BENCH_KEEP_LOG"]).open("ab") as keep:
                    keep.write(log.read_bytes())
        # The first claim: the first attempt on record (a report's own last_attempt_at moves
        # on when it is retried), or the rows' own time if attempts are not on record.
        first = HrmAttempt.objects.filter(report__in=reports).aggregate(first=Min("started_at"))
        times = reports.aggregate(first=Min("last_attempt_at"), last=Max("sent_at"))
        return Figures(
            reports=expected,
            seconds=(times["last"] - (first["first"] or times["first"])).total_seconds(),
            round_trips=trips,
            cpu=cpu,
            server_cpu=here,
            retried=reports.filter(attempts__gt=1).count(),
        )

    def _check(self, worker, log: Path, deadline: float, awaited: str) -> None:
        if worker.poll() is not None:
            raise RuntimeError(f"the worker exited with {worker.returncode}:\n{log_tail(log)}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"stopped waiting for {awaited}:\n{log_tail(log)}")

    def bare(self, first_pk: int, last_pk: int) -> tuple[float, int, int]:
        """The same reports' files put by the bare loop: files/s, round trips, files."""
        from hrm.delivery.transports import remote_name_for
        from hrm.models import HrmReport
        from hrm.reports.crypto import report_encrypt

        folder = self.workdir / "bare"
        folder.mkdir()
        rows = HrmReport.objects.filter(pk__gte=first_pk, pk__lte=last_pk).order_by("pk")
        for number, (transaction_id, xml) in enumerate(rows.values_list("transaction_id", "xml")):
            name = f"{number:06d}-" + remote_name_for("BARE-" + transaction_id)
            (folder / name).write_bytes(report_encrypt(bytes(xml), KEY))
        files = number + 1
        spawn = multiprocessing.get_context("spawn")
        ready, go, finish = spawn.Event(), spawn.Event(), spawn.Event()
        result_reader, result_writer = spawn.Pipe(False)
        putter = spawn.Process(
            target=bare_put,
            args=(self.login, str(folder), ready, go, finish, result_writer),
        )
        putter.start()
        try:
            if not ready.wait(60):
                raise RuntimeError("the bare loop did not connect")
            before = self.round_trips()
            go.set()
            if not result_reader.poll(PHASE_SECONDS):
                raise RuntimeError("the bare loop did not finish")
            seconds = result_reader.recv()
            trips = self.round_trips() - before
            finish.set()
            putter.join(30)
        finally:
            if putter.is_alive():
                putter.kill()
        return files / seconds, trips, files

    def run(self, processes: int) -> int:
        from django.db.models import Max

        from hrm.models import HrmReport

        logging.getLogger("asyncssh").setLevel(logging.WARNING)  # a line per connection
        self.setup()
        where = f"HRM {self.rtt_ms:g} ms away (delay proxy)" if self.rtt_ms else "HRM on loopback"
        print(
            f"{self.messages} messages per set (typed note + 200 KB PDF, two live stakeholders: "
            f"{4 * self.messages} reports); {where}; load average "
            f"{os.getloadavg()[0]:.1f}",
            flush=True,
        )
        first_pk = (HrmReport.objects.aggregate(last=Max("pk"))["last"] or 0) + 1
        one = self.deliver(1, "set 1")
        last_pk = HrmReport.objects.aggregate(last=Max("pk"))["last"]
        more = self.deliver(processes, "set 2") if processes > 1 else None
        bare_rate, bare_trips, files = self.bare(first_pk, last_pk)

        ratio = one.rate / bare_rate
        print(f"  delivery, 1 worker process (one connection)   {one.rate:7.1f} reports/s")
        print(f"    {one.reports} reports in {one.seconds:.1f} s, first claim to last sent")
        print(f"  bare paramiko putfo, one connection          {bare_rate:7.1f} files/s")
        print(f"  ratio {ratio:.2f}")
        rtt = self.rtt_ms / 1000
        if self.rtt_ms:
            per_report = one.round_trips / one.reports
            print(
                f"  round trips per report: delivery {per_report:.2f} (connection set-up "
                f"included), bare {bare_trips / files:.2f}"
            )
            bound = 1 / (per_report * rtt)
            print(
                f"  bound: {per_report:.2f} round trips of {self.rtt_ms:g} ms allow "
                f"{bound:.1f} reports/s; measured {one.rate / bound:.0%} of that"
            )
        print(
            f"  worker CPU {one.cpu / one.reports * 1000:.1f} ms per report "
            f"({one.cpu / one.seconds:.0%} of one core; the machine has 2); the SFTP server"
            f"{' and the proxy' if self.rtt_ms else ''} {one.server_cpu / one.reports * 1000:.1f}"
            f" ms; {one.seconds / one.reports * 1000:.1f} ms per report in all"
        )
        if one.retried:
            print(f"  note: {one.retried} report(s) needed more than one attempt")
        if more is not None:
            print(
                f"  second set, 1 worker with {processes} processes ({processes} connections): "
                f"{more.rate:.1f} reports/s ({more.reports} reports in {more.seconds:.1f} s), "
                f"ratio {more.rate / bare_rate:.2f}"
            )
        failed = False
        for goal_rtt, goal in GOALS.items():
            here = goal_rtt == self.rtt_ms
            verdict = ("met" if ratio >= goal else "NOT met") if here else "not measured here"
            failed = failed or (here and ratio < goal)
            print(f"  goal, one connection, HRM {goal_rtt} ms away: ratio >= {goal}: {verdict}")
        return 1 if failed else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rtt-ms", type=float, default=0, help="HRM's round trip (ms)")
    parser.add_argument("--messages", type=int, help="messages per set (default: by the RTT)")
    parser.add_argument(
        "--processes",
        type=int,
        default=int(os.environ.get("BENCH_WORKER_PROCESSES", "1")),
        help="above 1: a second set, with a worker of that many processes",
    )
    parser.add_argument(
        "--server-on-disk",
        action="store_true",
        help="keep the SFTP server's folder on the database's disk, not in /dev/shm",
    )
    arguments = parser.parse_args()
    messages = (
        arguments.messages
        or int(os.environ.get("BENCH_DELIVERY_MESSAGES", "0"))
        or default_messages(arguments.rtt_ms)
    )
    sys.exit(
        main(
            arguments.rtt_ms,
            messages,
            arguments.processes,
            server_on_disk=arguments.server_on_disk,
        )
    )
