"""Fault drills: exactly once into a server that takes each file away, whatever breaks.

Run from the repository root: ``.venv/bin/python bench/faults.py`` (a few minutes; it stops by
itself within 10). Everything is its own and is removed at the end: a throwaway PostgreSQL
database, a private Redis, and a real SFTP server on loopback (the sandbox server, in a process of
its own) that takes each completed file away as soon as it appears, as HRM's inbound folder does,
and logs every file it took. The worker runs as docs/delivery.md runs it in production
(``celery -A config worker -Q hrm,celery --concurrency 4 --prefetch-multiplier 1``), with beat,
and a process of its own posts messages (a typed note and a PDF, to two live stakeholders: four
reports each) throughout, as clinicians would. Timings are shortened so drills finish quickly
(SFTP timeout 4 s, task limits 15/18 s, "sending" stale after 20 s, re-drive every 2 s), in the
same order as production's.

Drills, one phase each (messages keep being posted during the faults):

- ``sigkill``: 20 SIGKILLs of worker processes mid-upload (pool processes, and the main process:
  then, as a supervisor would, its orphans are killed and a new worker is started);
- ``sftp_restart``: 10 SFTP server restarts (killed, back 1-2 s later, refusing the first key
  offered, as a server still starting does);
- ``redis_restart``: 5 Redis restarts (one with Redis down for 10 s while messages are posted:
  they still post, and are delivered once it is back);
- ``pg_reset``: 5 resets of the worker's PostgreSQL connections (``pg_terminate_backend``), each
  right after a rename and before its reply, the worst moment for one;
- ``warm_shutdown``: 3 warm shutdowns (SIGTERM) mid-batch, and a new worker each time.

``--rtt-ms N`` puts HRM's server N ms away: the worker reaches it through
bench/support/delay_proxy.py (half the round trip each way), a process of its own in front of the
SFTP server's port, so the drills that kill and restart the server work as they do on loopback
(a connection the restarting server refuses or drops is ended by the proxy at once, as a real
path would).

After each phase it waits for every report to settle, then prints one line per drill:
``drill=NAME reports= delivered= lost= duplicated= stuck= mismatched=`` (delivered: reports whose
file the server took; lost: never taken; duplicated: taken more than once; stuck: still queued or
sending; mismatched: the row's status disagrees with what the server got, or the bytes it got
differ from the report's). A worker that dies on its own is counted and reported too. The exit
status is non-zero when any count other than reports and delivered is.
"""

import argparse
import contextlib
import dataclasses
import hashlib
import multiprocessing
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _support import ROOT, throwaway_django

from tests.processes import PrivateRedis, log_tail, sftp_environment

KEY = "00112233445566778899aabbccddeeff"
WORKER_COMMAND = [
    sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", "hrm,celery",
    "--concurrency", "4", "--prefetch-multiplier", "1",
]  # fmt: skip
POST_INTERVAL = float(os.environ.get("FAULTS_POST_INTERVAL", "0.3"))  # seconds between messages
PER_REFERRAL = 150  # a referral holds at most 50 MB of attachments
SETTLE_SECONDS = 150
DEADLINE_SECONDS = 600
TIMINGS = {
    "HRM_SFTP_TIMEOUT_SECONDS": "4",
    "HRM_DB_WRITE_RETRY_SECONDS": "8",
    "HRM_TASK_SOFT_TIME_LIMIT": "15",
    "HRM_TASK_TIME_LIMIT": "18",
    "HRM_SENDING_STALE_SECONDS": "20",
    "HRM_REDRIVE_INTERVAL_SECONDS": "2",
    "HRM_REDRIVE_GRACE_SECONDS": "10",
    "HRM_RETRY_FIRST_DELAY_SECONDS": "1",
    "HRM_RETRY_MAX_DELAY_SECONDS": "5",
}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- The SFTP server, in a process of its own -----------------------------------------------------


def serve_sftp(workdir: str, port: int, taken_log: str, refuse_first_key: bool) -> None:
    """``python bench/faults.py --sftp-server ...``: the sandbox server, taking files away.

    When the file ``<workdir>/reset-postgres`` appears, the next rename is followed, before its
    reply, by a reset of the worker's PostgreSQL sessions: the worst moment for one."""
    from sandbox.sftp_server import SandboxSftpServer

    server = SandboxSftpServer(workdir, port=port, consume=True, taken_log=taken_log)
    trigger = Path(workdir) / "reset-postgres"

    def after_rename(name: str) -> None:
        server.after_rename = after_rename
        if trigger.exists():
            trigger.unlink()
            _terminate_worker_sessions()
            (Path(workdir) / "reset-done").touch()

    server.after_rename = after_rename
    server.refuse_auth_once = refuse_first_key
    server.start()
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    print("listening", flush=True)
    while not stop:
        time.sleep(0.2)
    server.close()


def _terminate_worker_sessions() -> None:
    import psycopg
    from _support import SERVER_URL

    with psycopg.connect(SERVER_URL, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = 'hrm-worker'"
        )


class SftpServerProcess:
    def __init__(self, workdir: Path):
        self.workdir = workdir / "sftp"
        self.port = _free_port()
        self.taken_log = workdir / "taken.log"
        self.taken_log.touch()
        self.process: subprocess.Popen | None = None

    def start(self, *, refuse_first_key: bool = False) -> None:
        command = [
            sys.executable, __file__, "--sftp-server", str(self.workdir), str(self.port),
            str(self.taken_log), *(["--refuse-first-key"] if refuse_first_key else []),
        ]  # fmt: skip
        self.process = subprocess.Popen(
            command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        line = self.process.stdout.readline()
        if line.strip() != "listening":
            raise RuntimeError("the SFTP server process did not start")

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
            self.process = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
            self.process = None

    @property
    def login(self):
        from sandbox.sftp_server import REMOTE_DIR, USERNAME, SftpLogin

        keys = self.workdir / "keys"
        return SftpLogin(
            "127.0.0.1", self.port, USERNAME, keys / "client_key", keys / "known_hosts", REMOTE_DIR
        )

    def taken(self) -> list[tuple[str, str]]:
        lines = self.taken_log.read_text().splitlines()
        return [tuple(line.split()) for line in lines if len(line.split()) == 2]


def delay_proxy_start(sftp: SftpServerProcess, rtt_ms: float, workdir: Path):
    """A delay proxy ``rtt_ms`` away in front of the SFTP server's port, in a process of its own
    (it outlives the server's restarts), and the server's login through it (its host key pinned
    under the proxy's address)."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "support" / "delay_proxy.py"),
         f"127.0.0.1:{port}", f"127.0.0.1:{sftp.port}", str(rtt_ms / 2)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    if process.stdout.readline().strip() != "listening":
        process.kill()
        raise RuntimeError("the delay proxy did not start")
    login = sftp.login
    key = login.known_hosts_file.read_text().split(maxsplit=1)[1]
    known_hosts = workdir / "known_hosts_delayed"
    known_hosts.write_text(f"[127.0.0.1]:{port} {key}")
    return dataclasses.replace(login, port=port, known_hosts_file=known_hosts), process


# --- The clinicians ------------------------------------------------------------------------------


def post_messages(referral_ids, author_id, pdf, posting, stop, posted, slowest) -> None:
    """Post a message every POST_INTERVAL seconds while ``posting`` is set, until ``stop``."""
    import django

    django.setup()
    from django.core.files.uploadedfile import SimpleUploadedFile

    from directory.models import User
    from referrals import services
    from referrals.models import Referral

    author = User.objects.get(pk=author_id)
    referrals = list(Referral.objects.filter(pk__in=referral_ids).order_by("pk"))
    number = 0
    while not stop.is_set():
        if not posting.wait(0.2):
            continue
        started = time.monotonic()
        services.message_post(
            referral=referrals[number // PER_REFERRAL],
            author=author,
            text=f"Seen today ({number}).",
            files=[SimpleUploadedFile("Consultation letter.pdf", pdf)],
        )
        took = time.monotonic() - started
        number += 1
        with posted.get_lock():
            posted.value = number
        with slowest.get_lock():
            slowest.value = max(slowest.value, took)
        time.sleep(max(POST_INTERVAL - took, 0))


# --- The drills ----------------------------------------------------------------------------------


class Drills:
    def __init__(self, workdir: Path, environment: dict[str, str], redis: PrivateRedis, sftp):
        self.workdir = workdir
        self.environment = environment
        self.redis = redis
        self.sftp = sftp
        self.worker: subprocess.Popen | None = None
        self.workers_started = 0
        self.crashes: list[str] = []
        self.beat: subprocess.Popen | None = None

    # Processes -----------------------------------------------------------------------------

    def _log(self, name: str):
        return (self.workdir / f"{name}.log").open("a")

    def start_worker(self) -> None:
        self.workers_started += 1
        self.worker_ready_at: float | None = None
        name = f"drill{self.workers_started}"
        self.worker_log = self.workdir / f"{name}.log"
        self.worker = subprocess.Popen(
            [*WORKER_COMMAND, "-n", f"{name}@%h"],
            cwd=ROOT,
            env={**os.environ, **self.environment},
            stdout=self._log(name),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def _kill_group(self, process: subprocess.Popen) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)

    def check_worker(self) -> None:
        """A worker that exited on its own is a fault; start another, as a supervisor would."""
        if self.worker is not None and self.worker.poll() is not None:
            self.crashes.append(
                f"worker exited with {self.worker.returncode}:\n{log_tail(self.worker_log, 30)}"
            )
            self._kill_group(self.worker)
            self.start_worker()

    def start_beat(self) -> None:
        self.beat = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "beat",
             "-s", str(self.workdir / "beat-schedule"), "--pidfile="],
            cwd=ROOT, env={**os.environ, **self.environment}, stdout=self._log("beat"),
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip

    def stop_all(self) -> None:
        for process in (self.worker, self.beat):
            if process is not None and process.poll() is None:
                process.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(30)
                self._kill_group(process)

    def pool_processes(self) -> list[int]:
        children = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if int(fields[1]) == self.worker.pid:
                    children.append(int(entry.name))
        return children

    # The faults ----------------------------------------------------------------------------

    def _pool_started(self) -> bool:
        """Celery gives up when a pool process dies before its consumer's loop first runs, just
        after the worker logs "ready." ("Could not start worker processes"): a supervisor
        restarts it, but that is no drill of ours. So kills wait for "ready." (however long a
        busy machine takes to get there) plus a second, and for every pool process."""
        if self.worker_ready_at is None:
            with contextlib.suppress(OSError):
                if " ready." in self.worker_log.read_text(errors="replace"):
                    self.worker_ready_at = time.monotonic()
        return (
            self.worker_ready_at is not None
            and time.monotonic() - self.worker_ready_at >= 1
            and len(self.pool_processes()) >= 4
        )

    def sigkill(self, number: int) -> None:
        deadline = time.monotonic() + 120
        while not self._pool_started():
            self.check_worker()  # a worker that died meanwhile is replaced, not waited for
            if time.monotonic() > deadline:
                self.crashes.append("the worker's pool did not start within 120 s")
                return
            time.sleep(0.2)
        if number % 3 == 2:
            # The main process: its pool processes are orphaned; a supervisor kills what is
            # left of the service and starts it again.
            os.kill(self.worker.pid, signal.SIGKILL)
            time.sleep(0.5)
            self._kill_group(self.worker)
            self.start_worker()
        else:
            children = self.pool_processes()
            if children:
                os.kill(random.choice(children), signal.SIGKILL)

    def sftp_restart(self, number: int) -> None:
        self.sftp.kill()
        time.sleep(random.uniform(1, 2))
        self.sftp.start(refuse_first_key=True)

    def redis_restart(self, number: int) -> None:
        self.redis.stop()
        time.sleep(10 if number == 2 else random.uniform(1, 3))  # the third: down for a while
        self.redis.start()

    def pg_reset(self, number: int) -> None:
        """Right after a rename (the server does it, see ``serve_sftp``); or now, if no rename
        comes within 10 s."""
        done = self.sftp.workdir / "reset-done"
        done.unlink(missing_ok=True)
        (self.sftp.workdir / "reset-postgres").touch()
        deadline = time.monotonic() + 10
        while not done.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        if not done.exists():
            (self.sftp.workdir / "reset-postgres").unlink(missing_ok=True)
            _terminate_worker_sessions()

    def warm_shutdown(self, number: int) -> None:
        worker = self.worker
        worker.terminate()
        try:
            worker.wait(60)
        except subprocess.TimeoutExpired:
            self.crashes.append("a warm shutdown took longer than 60 s")
        self._kill_group(worker)
        self.start_worker()


def _report_files() -> dict[int, tuple[str, str]]:
    """Each report's remote name and the SHA-256 of the file HRM should get."""
    from hrm.delivery.transports import remote_name_for
    from hrm.models import HrmReport
    from hrm.reports.crypto import report_encrypt

    files = {}
    for pk, transaction_id, xml in HrmReport.objects.values_list("pk", "transaction_id", "xml"):
        data = report_encrypt(bytes(xml), KEY) if xml else b""
        files[pk] = (remote_name_for(transaction_id), hashlib.sha256(data).hexdigest())
    return files


def settle(deadline: float) -> None:
    from hrm.models import HrmReport

    unsettled = HrmReport.objects.filter(status__in=["queued", "sending"])
    while unsettled.exists() and time.monotonic() < deadline:
        time.sleep(1)


def count(first_pk: int, last_pk: int, sftp: SftpServerProcess) -> dict[str, int]:
    from hrm.models import HrmReport

    rows = dict(
        HrmReport.objects.filter(pk__gt=first_pk, pk__lte=last_pk).values_list("pk", "status")
    )
    files = _report_files()
    taken = sftp.taken()
    copies = Counter(name for name, _ in taken)
    digests: dict[str, set[str]] = {}
    for name, digest in taken:
        digests.setdefault(name, set()).add(digest)
    figures = Counter(reports=len(rows))
    for pk, status in rows.items():
        name, digest = files[pk]
        arrived = copies[name]
        figures["delivered"] += arrived > 0
        figures["lost"] += arrived == 0
        figures["duplicated"] += arrived > 1
        figures["stuck"] += status in ("queued", "sending")
        wrong_bytes = arrived and digests[name] != {digest}
        figures["mismatched"] += bool(wrong_bytes or (status == "sent") != (arrived > 0))
    return figures


DRILLS = [
    ("sigkill", 20, (1.5, 3.0)),
    ("sftp_restart", 10, (2.0, 4.0)),
    ("redis_restart", 5, (3.0, 6.0)),
    ("pg_reset", 5, (2.0, 4.0)),
    ("warm_shutdown", 3, (3.0, 5.0)),
]
FAULTS = ("lost", "duplicated", "stuck", "mismatched")
if os.environ.get("FAULTS_DRILLS"):  # e.g. FAULTS_DRILLS=redis_restart,pg_reset: only those
    DRILLS = [drill for drill in DRILLS if drill[0] in os.environ["FAULTS_DRILLS"].split(",")]


def run(drills: Drills, sftp: SftpServerProcess, started: float) -> int:
    from django import db

    from hrm.models import HrmReport
    from referrals import services
    from referrals.sample_files import consultation_letter_pdf
    from tests.delivery_fixtures import make_live
    from tests.factories import make_referral, make_world

    world = make_world()
    make_live(world)
    pdf = consultation_letter_pdf(["Consultation letter"], padding_bytes=30 * 1024)
    referral_ids = []
    for _ in range(12):
        referral = make_referral(world.referrer, world.practice_listing, world.intake_listing)
        services.referral_forward(
            referral=referral, to_listing=world.cardiology, actor=world.intake
        )
        referral_ids.append(referral.pk)
    db.connections.close_all()

    spawn = multiprocessing.get_context("spawn")
    posting, stop = spawn.Event(), spawn.Event()
    posted, slowest = spawn.Value("i", 0), spawn.Value("d", 0.0)
    poster = spawn.Process(
        target=post_messages,
        args=(referral_ids, world.specialist.pk, pdf, posting, stop, posted, slowest),
    )
    poster.start()
    drills.start_worker()
    drills.start_beat()
    failed = False
    try:
        for name, times, (low, high) in DRILLS:
            first_pk = HrmReport.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
            slowest.value = 0.0
            posting.set()
            time.sleep(2)
            for number in range(times):
                time.sleep(random.uniform(low, high))
                drills.check_worker()
                getattr(drills, name)(number)
            time.sleep(2)
            posting.clear()
            time.sleep(POST_INTERVAL * 3)  # the message being posted finishes
            if not poster.is_alive():
                print("stopped: the posting process died", file=sys.stderr)
                return 1
            last_pk = HrmReport.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
            settle(min(time.monotonic() + SETTLE_SECONDS, started + DEADLINE_SECONDS))
            drills.check_worker()
            figures = count(first_pk, last_pk, sftp)
            print(
                f"drill={name} reports={figures['reports']} delivered={figures['delivered']} "
                + " ".join(f"{fault}={figures[fault]}" for fault in FAULTS)
                + f"  (slowest Send {slowest.value:.2f} s)",
                flush=True,
            )
            failed = failed or any(figures[fault] for fault in FAULTS)
            if time.monotonic() > started + DEADLINE_SECONDS:
                print("stopped: over the 10-minute budget", file=sys.stderr)
                return 1
    finally:
        stop.set()
        posting.set()
        poster.join(30)
        if poster.is_alive():
            poster.kill()
        drills.stop_all()
    for crash in drills.crashes:
        print(f"worker crash: {crash}", file=sys.stderr)
    failed_rows = HrmReport.objects.filter(status="failed").values_list("last_error", flat=True)
    for error in failed_rows[:5]:
        print(f"failed report: {error}", file=sys.stderr)
    print(
        f"total: {HrmReport.objects.count()} reports, {len(sftp.taken())} files taken, "
        f"{len(drills.crashes)} worker crash(es), {drills.workers_started} workers started, "
        f"{time.monotonic() - started:.0f} s"
    )
    return 1 if failed or drills.crashes else 0


def main(rtt_ms: float = 0) -> int:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-faults-") as workdir:
        workdir = Path(workdir)
        redis = PrivateRedis(workdir)
        redis.start()
        sftp = SftpServerProcess(workdir)
        sftp.start()
        proxy = None
        try:
            login = sftp.login
            if rtt_ms:
                login, proxy = delay_proxy_start(sftp, rtt_ms, workdir)
            print(
                f"HRM {rtt_ms:g} ms away (delay proxy)" if rtt_ms else "HRM on loopback", flush=True
            )
            environment = {
                "TEST_CELERY_BROKER_URL": redis.url,
                **sftp_environment(login, KEY),
                "PRIVATE_MEDIA_ROOT": str(workdir / "private"),
                **TIMINGS,
            }
            with throwaway_django(f"bench_faults_{os.getpid()}", **environment) as url:
                drills = Drills(
                    workdir,
                    {
                        **environment,
                        "TEST_DATABASE_URL": url + "?application_name=hrm-worker",
                        "CONN_MAX_AGE": "60",
                        "CONN_HEALTH_CHECKS": "true",
                    },
                    redis,
                    sftp,
                )
                try:
                    return run(drills, sftp, started)
                finally:
                    drills.stop_all()
                    if os.environ.get("FAULTS_KEEP_LOGS"):
                        keep = Path(os.environ["FAULTS_KEEP_LOGS"])
                        keep.mkdir(parents=True, exist_ok=True)
                        for log in workdir.glob("*.log"):
                            (keep / log.name).write_bytes(log.read_bytes())
        finally:
            if proxy is not None:
                proxy.terminate()
                try:
                    proxy.wait(15)
                except subprocess.TimeoutExpired:
                    proxy.kill()
                    proxy.wait(10)
            sftp.stop()
            redis.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sftp-server", nargs=3, metavar=("WORKDIR", "PORT", "TAKEN_LOG"))
    parser.add_argument("--refuse-first-key", action="store_true")
    parser.add_argument("--rtt-ms", type=float, default=0, help="HRM's round trip (ms)")
    arguments = parser.parse_args()
    if arguments.sftp_server:
        workdir, port, taken_log = arguments.sftp_server
        serve_sftp(workdir, int(port), taken_log, arguments.refuse_first_key)
        sys.exit(0)
    sys.exit(main(arguments.rtt_ms))
