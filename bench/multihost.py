"""Workers on several hosts: reports per second with one, two and three worker hosts sharing one
PostgreSQL, one Redis and one HRM server, and nothing lost or sent twice when a host is cut off.

Run as root from the repository root: ``.venv/bin/python bench/multihost.py`` (a few minutes; it
stops by itself within 15). Each worker host is a network namespace of its own, made here with
``ip netns`` and a veth pair: loopback and one address inside (10.231.N.2), one address on the
host's side (10.231.N.1), nothing else, no route and no forwarding; all are removed at the end,
whatever happens. PostgreSQL (the machine's, on loopback), a private Redis and the SFTP server
(the sandbox's, in a process of its own, taking each file away as HRM does, as in
bench/faults.py) stay on the host's side. A forwarder per worker host listens on that host's
veth address and carries its connections to them: PostgreSQL and Redis undelayed, the SFTP
server through bench/support/delay_proxy.py so that HRM is ``MULTIHOST_RTT_MS`` (20 ms) away.
Each host runs the HRM worker as deploy/systemd/ereferral-worker-hrm.service does (queue hrm,
prefetch 1), with ``MULTIHOST_WORKER_PROCESSES`` (2) processes; beat runs on the host's side.

Each run posts a fixed set of messages first (``MULTIHOST_MESSAGES``, 150: a typed note to two
live stakeholders, two reports each; with ``MULTIHOST_PDF_KB=30`` also a 30 KB PDF, four reports
each), with no worker running; then starts the hosts' workers, and once each answers, enqueues
the whole set at once (the re-drive's service) and waits for every report to settle. Runs: one,
two and three hosts; then two and three hosts again, cutting the last host off the network (its
veth down) and killing its worker (SIGKILL) once a third of the set is sent. Reports/s runs from
the first report's claim to the last one's sent. It prints one line per run with lost,
duplicated, stuck and mismatched (as bench/faults.py counts them: all must be 0), and the
two-host speed-up (target at least 1.7). The exit status is non-zero when a count is not 0 or
the speed-up is under target.
"""

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _support import ROOT, throwaway_django
from faults import KEY, TIMINGS, SftpServerProcess, count

from tests.processes import PrivateRedis, log_tail, sftp_environment, wait_for

RTT_MS = float(os.environ.get("MULTIHOST_RTT_MS", "20"))
MESSAGES = int(os.environ.get("MULTIHOST_MESSAGES", "150"))
PROCESSES = int(os.environ.get("MULTIHOST_WORKER_PROCESSES", "2"))
# Typed notes by default: the namespaces share this machine's cores, which real hosts would not,
# so a report's CPU is kept small and the figure shows what the hosts' number gives.
PDF_KB = int(os.environ.get("MULTIHOST_PDF_KB", "0"))
SUBNET = os.environ.get("MULTIHOST_SUBNET", "10.231")  # 10.231.N.0/30 for host N
HOSTS = 3
TARGET = 1.7
RUN_SECONDS = 240
PER_REFERRAL = 150  # a referral holds at most 50 MB of attachments
PORTS = {"postgres": 5432, "redis": 6379, "sftp": 2222}  # on each host's own veth address
FIGURES = ("lost", "duplicated", "stuck", "mismatched")


def ip(*arguments: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *arguments], capture_output=True, text=True, check=check)


class Network:
    """The worker hosts' namespaces and veth pairs, made and removed by this script only."""

    def __init__(self):
        self.tag = str(os.getpid() % 100000)
        self.made: list[int] = []

    def namespace(self, number: int) -> str:
        return f"ereferral-mh{self.tag}-{number}"

    def host_side(self, number: int) -> str:
        return f"mh{self.tag}h{number}"

    def host_address(self, number: int) -> str:
        return f"{SUBNET}.{number}.1"

    def check(self) -> None:
        """Root, ``ip netns`` working, and no address or route of the machine in our subnet."""
        if os.geteuid() != 0:
            raise SystemExit("bench/multihost.py makes network namespaces: run it as root.")
        taken = ip("-o", "addr").stdout + ip("route").stdout + ip("-6", "route").stdout
        if f" {SUBNET}." in taken:
            raise SystemExit(f"{SUBNET}.0.0/16 is in use on this machine: set MULTIHOST_SUBNET.")
        probe = f"ereferral-mh{self.tag}-probe"
        made = ip("netns", "add", probe, check=False)
        if made.returncode != 0:
            raise SystemExit(f"`ip netns add` does not work here: {made.stderr.strip()}")
        ip("netns", "del", probe)

    def make(self, number: int) -> None:
        namespace, host, inside = (
            self.namespace(number),
            self.host_side(number),
            f"mh{self.tag}n{number}",
        )
        ip("netns", "add", namespace)
        self.made.append(number)
        ip("link", "add", host, "type", "veth", "peer", "name", inside)
        ip("link", "set", inside, "netns", namespace)
        ip("addr", "add", f"{self.host_address(number)}/30", "dev", host)
        ip("link", "set", host, "up")
        ip("-n", namespace, "link", "set", "lo", "up")
        ip("-n", namespace, "addr", "add", f"{SUBNET}.{number}.2/30", "dev", inside)
        ip("-n", namespace, "link", "set", inside, "up")

    def cut(self, number: int, up: bool = False) -> None:
        ip("link", "set", self.host_side(number), "up" if up else "down")

    def remove(self) -> None:
        for number in self.made:
            namespace = self.namespace(number)
            pids = ip("netns", "pids", namespace, check=False).stdout.split()
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid), signal.SIGKILL)
            ip("link", "del", self.host_side(number), check=False)  # its peer goes with it
            ip("netns", "del", namespace, check=False)
        self.made = []


def kill_group(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(10)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(30)
    kill_group(process)


class Bench:
    def __init__(self, workdir: Path, network: Network, redis: PrivateRedis, sftp, database: str):
        self.workdir = workdir
        self.network = network
        self.redis = redis
        self.sftp = sftp
        self.database = database
        self.forwarders: list[subprocess.Popen] = []

    def start_forwarders(self) -> None:
        for number in range(1, HOSTS + 1):
            address = self.network.host_address(number)
            routes = [
                (PORTS["postgres"], "127.0.0.1:5432", 0),
                (PORTS["redis"], f"127.0.0.1:{self.redis.port}", 0),
                (PORTS["sftp"], f"127.0.0.1:{self.sftp.port}", RTT_MS / 2),
            ]
            arguments = [
                word
                for port, target, delay in routes
                for word in (f"{address}:{port}", target, str(delay))
            ]
            forwarder = subprocess.Popen(
                [sys.executable, str(ROOT / "bench" / "support" / "delay_proxy.py"), *arguments],
                stdout=subprocess.PIPE, text=True, start_new_session=True,
            )  # fmt: skip
            self.forwarders.append(forwarder)
            if forwarder.stdout.readline().strip() != "listening":
                raise RuntimeError(f"the forwarder on {address} did not start")
            # The SFTP server's key, under the name the host reaches it by.
            known = self.sftp.login.known_hosts_file.read_text().split(maxsplit=1)[1]
            (self.workdir / f"known_hosts_{number}").write_text(
                f"[{address}]:{PORTS['sftp']} {known}"
            )

    def worker_environment(self, number: int, grace_seconds: int) -> dict[str, str]:
        address = self.network.host_address(number)
        login = self.sftp.login
        return {
            **os.environ,
            **sftp_environment(login, KEY),
            **TIMINGS,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "TEST_DATABASE_URL": (
                f"postgres://postgres@{address}:{PORTS['postgres']}/{self.database}"
                "?application_name=hrm-worker"
            ),
            "TEST_CELERY_BROKER_URL": f"redis://{address}:{PORTS['redis']}/0",
            "HRM_SFTP_HOST": address,
            "HRM_SFTP_PORT": str(PORTS["sftp"]),
            "HRM_SFTP_KNOWN_HOSTS": str(self.workdir / f"known_hosts_{number}"),
            "PRIVATE_MEDIA_ROOT": str(self.workdir / "private"),
            "CONN_MAX_AGE": "60",
            "CONN_HEALTH_CHECKS": "true",
            "HRM_REDRIVE_GRACE_SECONDS": str(grace_seconds),
        }

    def start_worker(self, number: int, run: str, grace_seconds: int) -> subprocess.Popen:
        log = (self.workdir / f"{run}-host{number}.log").open("w")
        return subprocess.Popen(
            ["ip", "netns", "exec", self.network.namespace(number),
             sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", "hrm",
             "--concurrency", str(PROCESSES), "--prefetch-multiplier", "1",
             "--without-mingle", "--without-gossip", "-n", f"host{number}@{run}"],
            cwd=ROOT, env=self.worker_environment(number, grace_seconds), stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip

    def start_beat(self, run: str) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "beat",
             "-s", str(self.workdir / f"{run}-beat-schedule"), "--pidfile="],
            cwd=ROOT,
            env={**os.environ, **TIMINGS},
            stdout=(self.workdir / f"{run}-beat.log").open("w"),
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip

    def close(self) -> None:
        for forwarder in self.forwarders:
            stop(forwarder)


def post(world, referral_ids: list[int], pdf: bytes, first: int) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from referrals import services
    from referrals.models import Referral

    referrals = list(Referral.objects.filter(pk__in=referral_ids).order_by("pk"))
    for number in range(first, first + MESSAGES):
        services.message_post(
            referral=referrals[number // PER_REFERRAL],
            author=world.specialist,
            text=f"Seen today ({number}).",
            files=[SimpleUploadedFile("Consultation letter.pdf", pdf)] if pdf else [],
        )


def one_run(
    bench: Bench, network: Network, world, referral_ids, pdf, hosts: int, cut: bool, run_number: int
) -> dict:
    from django.db.models import Max, Min
    from django.test import override_settings

    from config.celery import app
    from hrm.delivery.services.outbox import reports_redrive
    from hrm.models import HrmReport

    run = f"run{run_number}"
    last = HrmReport.objects.aggregate(last=Max("pk"))["last"] or 0
    post(world, referral_ids, pdf, first=run_number * MESSAGES)
    reports = HrmReport.objects.filter(pk__gt=last)
    expected = reports.count()
    # The set waits while the hosts start: its broker messages are dropped, and once every
    # host's worker answers, the re-drive enqueues it all at once (batches as at Send), so a
    # host that starts later takes no less of it.
    with app.connection_for_write() as connection:
        connection.default_channel.queue_purge("hrm")
    # Production's re-drive grace (120 s) while every host is up (the re-drive runs in the
    # workers, with their settings). Cut off, a host's claimed rows come back through the
    # re-drive: then the drills' timings (bench/faults.py).
    grace = 10 if cut else 120
    beat = bench.start_beat(run)
    workers = {number: bench.start_worker(number, run, grace) for number in range(1, hosts + 1)}
    names = [f"host{number}@{run}" for number in workers]
    wait_for(
        lambda: len(app.control.ping(destination=names, timeout=1)) == len(names),
        timeout=120,
        message=lambda: (
            "every host's worker to answer; host 1's log:\n"
            + log_tail(bench.workdir / f"{run}-host1.log")
        ),
    )
    with override_settings(HRM_REDRIVE_GRACE_SECONDS=-5):
        reports_redrive()
    deadline = time.monotonic() + RUN_SECONDS
    unsettled = reports.filter(status__in=["queued", "sending"])
    try:
        if cut:
            victim = hosts
            wait_for(
                lambda: reports.filter(status="sent").count() >= expected // 3,
                timeout=RUN_SECONDS,
                interval=0.2,
                message=lambda: (
                    f"a third of the set sent; host {victim}'s log:\n"
                    + log_tail(bench.workdir / f"{run}-host{victim}.log")
                ),
            )
            network.cut(victim)
            time.sleep(1)
            kill_group(workers.pop(victim))
        while unsettled.exists() and time.monotonic() < deadline:
            for number, worker in workers.items():
                if worker.poll() is not None:
                    raise RuntimeError(
                        f"host {number}'s worker exited with {worker.returncode}:\n"
                        + log_tail(bench.workdir / f"{run}-host{number}.log")
                    )
            time.sleep(0.5)
    finally:
        for worker in workers.values():
            stop(worker)
        stop(beat)
        if cut:
            network.cut(hosts, up=True)
    times = reports.filter(status="sent").aggregate(
        first=Min("last_attempt_at"), last=Max("sent_at")
    )
    seconds = (times["last"] - times["first"]).total_seconds() if times["last"] else float("nan")
    figures = count(last, last + 10**9, bench.sftp)
    figures.update(hosts=hosts, cut=cut, seconds=seconds, rate=expected / seconds,
                   failed=reports.filter(status="failed").count())  # fmt: skip
    return figures


def run(bench: Bench, network: Network) -> int:
    from django import db

    from referrals import services
    from referrals.sample_files import consultation_letter_pdf
    from tests.delivery_fixtures import make_live
    from tests.factories import make_referral, make_world

    world = make_world()
    make_live(world)
    pdf = PDF_KB and consultation_letter_pdf(["Consultation letter"], padding_bytes=PDF_KB * 1024)
    plan = [(1, False), (2, False), (3, False), (2, True), (3, True)]
    referral_ids = []
    for _ in range(-(-len(plan) * MESSAGES // PER_REFERRAL)):
        referral = make_referral(world.referrer, world.practice_listing, world.intake_listing)
        services.referral_forward(
            referral=referral, to_listing=world.cardiology, actor=world.intake
        )
        referral_ids.append(referral.pk)
    db.connections.close_all()
    what = f"typed note + {PDF_KB} KB PDF" if PDF_KB else "typed note"
    print(
        f"{MESSAGES} messages per run ({what}, two live stakeholders: "
        f"{(4 if PDF_KB else 2) * MESSAGES} reports); HRM {RTT_MS:g} ms away; "
        f"{PROCESSES} worker processes per host",
        flush=True,
    )
    rates, bad = {}, False
    for number, (hosts, cut) in enumerate(plan):
        figures = one_run(bench, network, world, referral_ids, pdf, hosts, cut, number)
        if not cut:
            rates[hosts] = figures["rate"]
        faults = " ".join(f"{name}={figures[name]}" for name in FIGURES)
        what = f"{hosts} host{'s' if hosts > 1 else ''}" + (
            ", one cut off and killed" if cut else ""
        )
        print(
            f"  {what:<32} {figures['reports']} reports  {figures['rate']:6.1f} reports/s  "
            f"{faults} failed={figures['failed']}",
            flush=True,
        )
        bad = bad or figures["failed"] or any(figures[name] for name in FIGURES)
    speedup = rates[2] / rates[1]
    print(
        f"  two hosts / one: {speedup:.2f} (target >= {TARGET}); "
        f"three / one: {rates[3] / rates[1]:.2f}"
    )
    return 1 if bad or speedup < TARGET else 0


def main() -> int:
    network = Network()
    network.check()
    with tempfile.TemporaryDirectory(prefix="bench-multihost-") as workdir:
        workdir = Path(workdir)
        redis = PrivateRedis(workdir)
        sftp = SftpServerProcess(workdir)
        bench = None
        try:
            for number in range(1, HOSTS + 1):
                network.make(number)
            redis.start()
            sftp.start()
            environment = {
                "TEST_CELERY_BROKER_URL": redis.url,
                **sftp_environment(sftp.login, KEY),
                "PRIVATE_MEDIA_ROOT": str(workdir / "private"),
                **TIMINGS,
            }
            name = f"bench_multihost_{os.getpid()}"
            with throwaway_django(name, **environment):
                bench = Bench(workdir, network, redis, sftp, name)
                bench.start_forwarders()
                return run(bench, network)
        finally:
            if bench is not None:
                bench.close()
            network.remove()
            sftp.stop()
            redis.stop()
            if os.environ.get("MULTIHOST_KEEP_LOGS"):
                keep = Path(os.environ["MULTIHOST_KEEP_LOGS"])
                keep.mkdir(parents=True, exist_ok=True)
                for log in workdir.glob("*.log"):
                    (keep / log.name).write_bytes(log.read_bytes())


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up on the way out
    sys.exit(main())
