"""``manage.py hrm_sandbox``: HRM's server and a clinician's EMR, both on loopback, for the demo.

It starts the sandbox SFTP server in HRM's place, writes the settings that point the product's
sftp transport at it to ``HRM_SANDBOX_DIR/env``, copies the directory's clinicians and the
referrals' patients into the stand-in EMR, then polls the folder like an EMR and files every
report by the rules of the EMR profile (Open-O, OSCAR or Juno), until SIGINT or SIGTERM.
"""

import logging
import os
import secrets
import shlex
import signal
import threading
from pathlib import Path

import paramiko
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse
from django.utils import timezone

from hrm.reports.crypto import key_from_hex
from sandbox.emrs import emr_profile, emr_registry
from sandbox.models import EmrRetrievalLog
from sandbox.services.charts import sandbox_charts_sync
from sandbox.services.polling import PollResult, sandbox_poll
from sandbox.sftp_server import SandboxSftpServer

HOST = "127.0.0.1"
Outcome = EmrRetrievalLog.Outcome
# Both log every SSH connection at INFO: one poll every few seconds would bury what was filed.
_CHATTY_LOGGERS = ("asyncssh", "paramiko")
# Errors whose messages are about the connection or the files, never a report's content.
_CONNECTION_ERRORS = (OSError, paramiko.SSHException)


def _error_words(exc: Exception) -> str:
    """What the log may say about ``exc``. Logs carry no patient data, the sandbox's included: a
    database or parsing error can quote a patient's name or health card number, so only its kind
    is written."""
    if isinstance(exc, _CONNECTION_ERRORS):
        return f"{type(exc).__name__}: {exc}"
    return f"{type(exc).__name__} (its message is not logged: it can quote a report's content)"


def env_lines(server: SandboxSftpServer, aes_key: str) -> list[str]:
    """``NAME=value`` lines, shell-quoted, with absolute paths: what the web server and the Celery
    worker need to deliver into this sandbox."""
    login = server.login
    values = {
        "HRM_TRANSPORT": "sftp",
        "HRM_SFTP_HOST": login.host,
        "HRM_SFTP_PORT": str(login.port),
        "HRM_SFTP_USER": login.user,
        "HRM_SFTP_KEY_FILE": str(Path(login.key_file).resolve()),
        "HRM_SFTP_KNOWN_HOSTS": str(Path(login.known_hosts_file).resolve()),
        "HRM_SFTP_DIR": login.remote_dir,
        # The sender encrypts with it, the sandbox EMR decrypts with it.
        "HRM_AES_KEY": aes_key,
        # So the web server shows the sandbox EMR inbox pages.
        "HRM_SANDBOX_ENABLED": "true",
    }
    return [f"{name}={shlex.quote(value)}" for name, value in values.items()]


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` readable by the owner only (it holds the AES key), replacing any old file in
    one step so a reader never sees half of it."""
    partial = path.with_name(path.name + ".tmp")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
        stream.write(text)
    os.replace(partial, path)


class Command(BaseCommand):
    help = (
        "Run the HRM sandbox on loopback: an SFTP server standing in for HRM, and an EMR that "
        "polls it and files reports as Open-O, OSCAR or Juno does (--emr-profile). Writes the "
        "settings that point the product at it to HRM_SANDBOX_DIR/env."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--once",
            action="store_true",
            help="Start, sync the charts, poll once and stop (for tests and scripts).",
        )
        parser.add_argument(
            "--refuse-deliver-to",
            action="append",
            default=[],
            metavar="ID",
            help=(
                "Refuse (SFTP permission denied) uploads for this DeliverToUserID, e.g. N1234567, "
                "as HRM refuses a recipient not registered with it. Repeatable."
            ),
        )
        parser.add_argument(
            "--emr-profile",
            choices=list(emr_registry()),
            help="File reports by this EMR's rules (default: HRM_SANDBOX_EMR_PROFILE, open-o).",
        )

    def handle(self, *args, once: bool, refuse_deliver_to: list[str], **options):
        self._profile = emr_profile(options.get("emr_profile"))
        refused_ids = [user_id.strip() for user_id in refuse_deliver_to]
        if not all(refused_ids):
            raise CommandError("--refuse-deliver-to needs a DeliverToUserID, e.g. D12345.")
        workdir = Path(settings.HRM_SANDBOX_DIR).resolve()
        workdir.mkdir(parents=True, exist_ok=True)
        # An env file from an earlier run must not pass for this one: it appears again only once
        # this server listens, so a script can wait for it.
        (workdir / "env").unlink(missing_ok=True)
        aes_key = self._aes_key(workdir)
        server = SandboxSftpServer(workdir / "sftp", host=HOST, port=settings.HRM_SANDBOX_PORT)
        server.refuse_deliver_to(*refused_ids)
        chatty = {name: logging.getLogger(name) for name in _CHATTY_LOGGERS}
        levels = {name: logger.level for name, logger in chatty.items()}
        for logger in chatty.values():
            logger.setLevel(max(logger.getEffectiveLevel(), logging.WARNING))
        try:
            try:
                server.start()
            except OSError as exc:
                raise CommandError(
                    f"The HRM sandbox cannot listen on {HOST}:{settings.HRM_SANDBOX_PORT} ({exc}). "
                    "Is another hrm_sandbox running? Set HRM_SANDBOX_PORT to another port."
                ) from exc
            self._announce(workdir, server, aes_key, refused_ids, once)
            label = emr_registry()[self._profile].label
            self.stdout.write(f"The sandbox EMR files reports by {label}'s rules.")
            if once:
                self._cycle(server, aes_key, raise_errors=True)
            else:
                self._run(server, aes_key)
        finally:
            server.close()
            for name, logger in chatty.items():
                logger.setLevel(levels[name])
        self.stdout.write("HRM sandbox stopped.")

    # Set-up ------------------------------------------------------------------------------------

    def _aes_key(self, workdir: Path) -> str:
        """The configured key if there is one (the product already encrypts with it), otherwise
        the sandbox's own, made once and kept in ``HRM_SANDBOX_DIR/aes_key``."""
        if settings.HRM_AES_KEY:
            try:
                key_from_hex(settings.HRM_AES_KEY)
            except ValueError as exc:
                raise CommandError(f"HRM_AES_KEY: {exc}") from exc
            return settings.HRM_AES_KEY
        key_file = workdir / "aes_key"
        if key_file.exists():
            key = key_file.read_text(encoding="utf-8").strip()
            try:
                key_from_hex(key)
            except ValueError as exc:
                raise CommandError(f"{key_file}: {exc} Delete it to make a new one.") from exc
            return key
        key = secrets.token_hex(16)  # AES-128, 32 hex digits
        _write_private(key_file, key + "\n")
        return key

    def _announce(self, workdir, server, aes_key, refused_ids, once) -> None:
        lines = env_lines(server, aes_key)
        env_file = workdir / "env"
        load = f"set -a; . {shlex.quote(str(env_file))}; set +a"
        header = [
            f"# Written by `manage.py hrm_sandbox` at {timezone.localtime():%Y-%m-%d %H:%M:%S}.",
            "# Points the product's sftp transport at the HRM sandbox. Load it before starting",
            f"# the web server and the Celery worker:  {load}",
        ]
        # Written before the first poll, so a script waiting for it can start the product next.
        _write_private(env_file, "\n".join(header + lines) + "\n")
        write = self.stdout.write
        write(
            f"HRM sandbox: SFTP server on {server.host}:{server.port}, folder "
            f"{server.login.remote_dir} (on disk: {server.inbox})."
        )
        if refused_ids:
            write(f"Refusing uploads for DeliverToUserID {', '.join(refused_ids)}.")
        write("Point the product at it with these settings (also written to the env file):")
        for line in lines:
            write(f"  {line}")
        write(f"Env file: {env_file}  (load it with: {load})")
        inbox = settings.SITE_URL.rstrip("/") + reverse("hrm_sandbox:index")
        write(f"Sandbox EMR inbox: {inbox} (needs HRM_SANDBOX_ENABLED=true in the web server)")
        if not once:
            seconds = settings.HRM_SANDBOX_POLL_SECONDS
            write(f"Polling every {seconds:g} s. Press Ctrl+C to stop.")
        self.stdout.flush()  # the demo sends this to a log file, where output is block-buffered

    # Polling -----------------------------------------------------------------------------------

    def _run(self, server: SandboxSftpServer, aes_key: str) -> None:
        stop = threading.Event()
        previous = {}
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                # The poll under way finishes (its files are filed and deleted), then we stop.
                previous[signum] = signal.signal(signum, lambda *_: stop.set())
        try:
            while not stop.is_set():
                self._cycle(server, aes_key, raise_errors=False)
                stop.wait(settings.HRM_SANDBOX_POLL_SECONDS)
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def _cycle(self, server: SandboxSftpServer, aes_key: str, *, raise_errors: bool) -> None:
        """Refresh the charts (new referrals bring new patients), then poll once."""
        try:
            synced = sandbox_charts_sync()
            if synced.providers_created or synced.providers_updated or synced.patients_created:
                self.stdout.write(
                    f"EMR charts: {synced.providers_created} provider(s) added, "
                    f"{synced.providers_updated} renamed, {synced.patients_created} patient "
                    "chart(s) added."
                )
            result = sandbox_poll(server.login, aes_key, profile=self._profile)
        except Exception as exc:
            if raise_errors:
                raise CommandError(f"The HRM sandbox poll failed: {_error_words(exc)}") from exc
            # A real EMR logs the failed poll and tries again at the next one.
            self.stderr.write(
                f"The HRM sandbox poll failed, trying again later: {_error_words(exc)}"
            )
            self.stderr.flush()
            return
        self._report(result)

    def _report(self, result: PollResult) -> None:
        for retrieval in result.retrievals:
            self.stdout.write(self._describe(retrieval))
        if result.retrievals:
            self.stdout.write(
                f"Poll: {result.filed} filed, {result.duplicate} duplicate(s), "
                f"{result.refused} refused."
            )
        self.stdout.flush()

    def _describe(self, retrieval: EmrRetrievalLog) -> str:
        """One line per file, naming no patient (logs carry no patient data): the file name is the
        Transaction ID, the chart is its number, the reasons stay on the retrieval log page."""
        name, document = retrieval.file_name, retrieval.document
        if retrieval.outcome == Outcome.REFUSED:
            # The reason can quote the report (a schema error shows the offending value).
            page = settings.SITE_URL.rstrip("/") + reverse("hrm_sandbox:log")
            return self.style.ERROR(f"Refused {name}: not filed; the reason is on {page}")
        if retrieval.outcome == Outcome.ROUTED:
            return f"Routed {name}: {retrieval.detail}"
        if retrieval.outcome == Outcome.DUPLICATE:
            return (
                f"Duplicate {name}: MessageUniqueID {retrieval.message_unique_id} was already "
                "filed; counted, not filed again."
            )
        if document.provider is not None:
            inbox = f"to {document.provider}"
        else:
            inbox = (
                "to the UNASSIGNED inbox (no provider has DeliverToUserID "
                f"'{document.unmatched_provider_id}')"
            )
        chart = (
            f"linked to chart #{document.patient_id}"
            if document.patient_id
            else "NOT linked to a patient (no chart matches)"
        )
        return self.style.SUCCESS(
            f"Filed {name}: {document.report_class} ({document.format}) {inbox}, {chart}."
        )
