"""Real processes for drills and benchmarks: a redis-server of our own on a free loopback port
(so a drill can stop it without touching the machine's shared Redis) and `celery worker`
processes. No Django imports here, so benchmarks can use it before Django is set up."""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path


def wait_for(condition, timeout=60.0, interval=0.1, message="condition"):
    """Poll ``condition`` until it is true, or fail after ``timeout`` seconds saying what was
    awaited (``message`` may be a callable, to describe the state at that moment)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(interval)
    described = message() if callable(message) else message
    raise AssertionError(f"Timed out after {timeout}s waiting for {described}")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PrivateRedis:
    """A redis-server of the tests' own, so drills can stop it without touching the machine's."""

    def __init__(self, workdir: Path):
        self.port = _free_port()
        self.workdir = workdir
        self.process = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        redis_server = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.process = subprocess.Popen(
            [
                redis_server,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
        )
        wait_for(self._answers, timeout=10, message="the private Redis to start")

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self):
        if self.process:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


REPO = Path(__file__).resolve().parents[1]


def sftp_environment(login, aes_key: str) -> dict[str, str]:
    """The settings, as environment variables, that send HRM reports to the SFTP server
    ``login`` describes (a sandbox's ``SftpLogin``), encrypted with ``aes_key``."""
    return {
        "HRM_TRANSPORT": "sftp",
        "HRM_SFTP_HOST": login.host,
        "HRM_SFTP_PORT": str(login.port),
        "HRM_SFTP_USER": login.user,
        "HRM_SFTP_KEY_FILE": str(login.key_file),
        "HRM_SFTP_KNOWN_HOSTS": str(login.known_hosts_file),
        "HRM_SFTP_DIR": login.remote_dir,
        "HRM_AES_KEY": aes_key,
    }


def start_worker_process(
    environment: dict[str, str], log_path: Path, *, name: str, concurrency: int = 1
) -> subprocess.Popen:
    """A real `celery worker` process (prefork), as production runs it, in its own process group
    so a drill can kill it and its children at once."""
    log = log_path.open("w")
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", "hrm,celery",
         "-P", "prefork", "-c", str(concurrency), "--without-mingle", "--without-gossip",
         "-n", f"{name}@%h"],
        cwd=REPO, env={**os.environ, **environment}, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip


def kill_process_group(process: subprocess.Popen) -> None:
    """SIGKILL: no clean-up, no acknowledgement, exactly like a worker lost to the OOM killer."""
    with contextlib.suppress(ProcessLookupError):  # already gone, children too
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(10)


def log_tail(log_path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(log_path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as error:
        return f"(no log: {error})"


def stop_worker(process: subprocess.Popen, log_path: Path, timeout: float = 90.0) -> None:
    """A warm shutdown (SIGTERM), as a deployment does, bounded: a worker still running after
    ``timeout`` seconds is killed, with its children, and the test fails saying so, with the end
    of its log. Either way nothing of it outlives the test."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            kill_process_group(process)
            raise AssertionError(
                f"the worker did not exit within {timeout:g} s of SIGTERM; the end of its log:\n"
                + log_tail(log_path)
            ) from None
    with contextlib.suppress(ProcessLookupError):  # any pool process left behind
        os.killpg(process.pid, signal.SIGKILL)
