"""An SFTP server on loopback that stands in for HRM's server, with faults on demand.

asyncssh runs in its own thread and event loop, so blocking clients (paramiko, the delivery
worker) can talk to it from the calling thread; its SSH and SFTP sessions are in sftp_sessions.py.
It accepts one user with one client key, SFTP only (no shell, no SCP), chrooted to
``<workdir>/root``; uploads land in ``<workdir>/root/inbox`` (``remote_dir`` ``/inbox``). Keys live
in ``<workdir>/keys`` and are reused when the directory already has them, so a sandbox keeps its
identity across restarts.

Fault switches (plain attributes, safe to flip from any thread):

- ``refuse_auth``: every key is refused;
- ``read_only``: creating, writing, renaming or removing files is denied (permission denied);
- ``disk_full``: writes fail with a generic SFTP failure ("No space left on device");
- ``refuse_names``: a compiled regex; opening for writing (or renaming to) a file whose name it
  matches is denied (permission denied), like HRM refusing a file for a recipient it does not
  know; ``refuse_deliver_to(*ids)`` sets it for the files of those DeliverToUserIDs;
- ``stall_writes``: every write waits until it is cleared (``write_stalled`` is set once a write
  is waiting), to hold an upload in the middle of a file;
  ``fail_write_at(offset)`` fails only the one write request covering that byte;
- ``drop_after(n_bytes, times=1)``: the next upload(s) get ``n_bytes`` written, then the
  connection is cut;
- ``drop_after_rename``: the next rename is done, then the connection is cut before its reply
  (the client cannot know whether the file arrived);
- ``disconnect_all()``: cut every open connection (like an idle-session timeout);
- ``stop()`` / ``start()``: stop listening (connections are refused) and listen again on the same
  port;
- ``replace_host_key()``: restart with a new host key (kept in memory only, and not written to
  ``known_hosts_file``), so pinned clients see a changed key;
- ``after_rename``: a callable given the new name, run once a rename is done and before its
  reply (e.g. to kill the client between a rename and its record);
- ``refuse_auth_once``: the next key offered is refused, later ones accepted (a server that is
  still starting).

``consume=True`` makes it behave like HRM's inbound folder: each completed file (any name not
ending ``.part``) is taken away as soon as it appears, and recorded in ``taken`` (name and
SHA-256, in order; ``taken_log`` also appends one line per file to a file, for other processes),
so a test counts deliveries and duplicates. ``.part`` names are left alone, as HRM must.

Usage::

    with SandboxSftpServer(tmp_path) as server:
        login = server.login  # host, port, username, key_file, known_hosts_file, remote_dir
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import threading
from collections import Counter
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncssh

from hrm.delivery.transports import REMOTE_SUFFIX
from sandbox.sftp_sessions import SandboxSftpSession, SandboxSshSession

USERNAME = "hrm"
REMOTE_DIR = "/inbox"
_KEY_TYPE = "ssh-ed25519"
_WAIT = 15.0  # seconds any control operation may take before we call it a hang


@dataclass(frozen=True)
class SftpLogin:
    """Everything a client needs to connect to the sandbox (matches ``SftpTransport``)."""

    host: str
    port: int
    user: str
    key_file: Path
    known_hosts_file: Path
    remote_dir: str


def _key_load_or_create(path: Path) -> asyncssh.SSHKey:
    if path.exists():
        return asyncssh.read_private_key(path)
    key = asyncssh.generate_private_key(_KEY_TYPE)
    key.write_private_key(path)  # OpenSSH format, which paramiko reads
    path.chmod(0o600)
    key.write_public_key(path.with_name(path.name + ".pub"))
    return key


class SandboxSftpServer:
    """See the module docstring. Not started until ``start()`` (or ``with``)."""

    def __init__(
        self,
        workdir: str | Path,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        username: str = USERNAME,
        consume: bool = False,
        taken_log: str | Path | None = None,
    ):
        self.workdir = Path(workdir)
        self.consume = consume
        self.taken_log = Path(taken_log) if taken_log else None
        self.taken: list[tuple[str, str]] = []  # (name, SHA-256) of each file taken away
        self.taken_data: dict[str, bytes] = {}  # the last file taken under each name
        self._taken_lock = threading.Lock()
        self.host = host
        self.port = port
        self.username = username
        self.keys_dir = self.workdir / "keys"
        self.root = self.workdir / "root"
        self.inbox = self.root / REMOTE_DIR.lstrip("/")
        for folder in (self.keys_dir, self.inbox):
            folder.mkdir(parents=True, exist_ok=True)
        self.host_key_file = self.keys_dir / "host_key"
        self.client_key_file = self.keys_dir / "client_key"
        self.known_hosts_file = self.keys_dir / "known_hosts"
        self._host_key = _key_load_or_create(self.host_key_file)
        self._client_key = _key_load_or_create(self.client_key_file)

        self.refuse_auth = False
        self.read_only = False
        self.disk_full = False
        self.refuse_names: re.Pattern[str] | None = None
        self.stall_writes = False
        self.drop_after_rename = False
        self.refuse_auth_once = False
        self.after_rename = None
        self.write_stalled = threading.Event()
        self.connections_made = 0
        self.most_open_files = 0  # the most files one session has held open for writing at once
        self._fail_write_at: int | None = None
        self._drop_after: int | None = None
        self._drops_left = 0
        self._written_since_armed = 0
        self._drop_lock = threading.Lock()

        self._connections: set[asyncssh.SSHServerConnection] = set()
        self._acceptor: asyncssh.SSHAcceptor | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    # Running ---------------------------------------------------------------------------------

    def _run(self, coroutine: Coroutine[Any, Any, Any]) -> Any:
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(_WAIT)

    def start(self) -> SandboxSftpServer:
        """Listen (again, on the same port after the first start) and pin the host key in
        ``known_hosts_file``. Idempotent."""
        return self._start(pin_host_key=True)

    def _start(self, *, pin_host_key: bool) -> SandboxSftpServer:
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
            self._thread = threading.Thread(
                target=self._loop.run_forever, name="hrm-sandbox-sftp", daemon=True
            )
            self._thread.start()
        if self._acceptor is None:
            self._acceptor = self._run(self._listen())
            self.port = self._acceptor.get_port()
            if pin_host_key:
                self.write_known_hosts()
        return self

    async def _listen(self) -> asyncssh.SSHAcceptor:
        return await asyncssh.listen(
            self.host,
            self.port,
            server_factory=lambda: SandboxSshSession(self),
            server_host_keys=[self._host_key],
            sftp_factory=lambda chan: SandboxSftpSession(chan, self),
            allow_scp=False,
            login_timeout=_WAIT,
            reuse_address=True,
        )

    def stop(self) -> None:
        """Stop listening and cut every connection; ``start()`` resumes on the same port."""
        if self._acceptor is not None:
            acceptor, self._acceptor = self._acceptor, None
            self._run(self._stop(acceptor))

    async def _stop(self, acceptor: asyncssh.SSHAcceptor) -> None:
        acceptor.close()
        await acceptor.wait_closed()
        await self._disconnect_all()

    def disconnect_all(self) -> None:
        """Cut every open connection but keep listening."""
        self._run(self._disconnect_all())

    async def _disconnect_all(self) -> None:
        connections = list(self._connections)
        for connection in connections:
            connection.abort()
        for connection in connections:
            await connection.wait_closed()

    def close(self) -> None:
        """Stop and end the server's thread. The workdir (and its keys) is left in place."""
        self.stop()
        if self._loop is not None:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
            loop.call_soon_threadsafe(loop.stop)
            assert thread is not None
            thread.join(_WAIT)
            loop.close()

    def __enter__(self) -> SandboxSftpServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # What the sessions report and ask (sftp_sessions.py) -----------------------------------

    def connection_opened(self, connection: asyncssh.SSHServerConnection) -> None:
        self._connections.add(connection)
        self.connections_made += 1

    def connection_closed(self, connection: asyncssh.SSHServerConnection | None) -> None:
        self._connections.discard(connection)

    def key_accepted(self, username: str, key: asyncssh.SSHKey) -> bool:
        """Whether this user may sign in with this key, given the fault switches."""
        if self.refuse_auth_once:
            self.refuse_auth_once = False
            return False
        return (
            not self.refuse_auth
            and username == self.username
            and key.public_data == self._client_key.public_data
        )

    # Identity --------------------------------------------------------------------------------

    @property
    def known_hosts_line(self) -> str:
        """This server's key as an OpenSSH known_hosts line (``[host]:port`` unless port 22)."""
        name = self.host if self.port == 22 else f"[{self.host}]:{self.port}"
        key_type, key_data = self._host_key.export_public_key().decode().split()[:2]
        return f"{name} {key_type} {key_data}"

    def write_known_hosts(self) -> None:
        # In one step: clients read this file on every connect, also while a server restarts.
        partial = self.known_hosts_file.with_name(self.known_hosts_file.name + ".tmp")
        partial.write_text(self.known_hosts_line + "\n")
        os.replace(partial, self.known_hosts_file)

    @property
    def login(self) -> SftpLogin:
        return SftpLogin(
            host=self.host,
            port=self.port,
            user=self.username,
            key_file=self.client_key_file,
            known_hosts_file=self.known_hosts_file,
            remote_dir=REMOTE_DIR,
        )

    def replace_host_key(self) -> None:
        """Restart with a new host key. ``known_hosts_file`` keeps the old one on purpose."""
        self.stop()
        self._host_key = asyncssh.generate_private_key(_KEY_TYPE)
        self._start(pin_host_key=False)

    # Taking files away, as HRM does --------------------------------------------------------

    def file_completed(self, local_path: bytes) -> None:
        """A file was closed after writing or renamed: taken away if it is a final name in the
        inbox and the server consumes."""
        path = Path(os.fsdecode(local_path))
        if not self.consume or path.name.endswith(".part") or path.parent != self.inbox:
            return
        with self._taken_lock:
            try:
                data = path.read_bytes()
                path.unlink()
            except FileNotFoundError:
                return
            digest = hashlib.sha256(data).hexdigest()
            self.taken.append((path.name, digest))
            if self.taken_log is None:
                self.taken_data[path.name] = data
            if self.taken_log is not None:
                with self.taken_log.open("a") as log:
                    log.write(f"{path.name} {digest}\n")

    def taken_counts(self) -> Counter[str]:
        """How many times each file name was delivered (taken away)."""
        with self._taken_lock:
            return Counter(name for name, _ in self.taken)

    # Faults ----------------------------------------------------------------------------------

    def drop_after(self, n_bytes: int, times: int = 1) -> None:
        """Cut the connection once ``n_bytes`` of file data have been written, ``times`` times."""
        with self._drop_lock:
            self._drop_after, self._drops_left, self._written_since_armed = n_bytes, times, 0

    def refuse_deliver_to(self, *deliver_to_user_ids: str) -> None:
        """Refuse uploads for these recipients (none: refuse nothing). Our Transaction IDs end
        with ``-<DeliverToUserID>``, so the file names end with ``-<ID>.xml.enc`` (and the upload
        in progress with ``.part`` after that). The IDs are matched exactly, case included."""
        ids = [re.escape(user_id) for user_id in deliver_to_user_ids if user_id]
        self.refuse_names = (
            re.compile(rf"-(?:{'|'.join(ids)}){re.escape(REMOTE_SUFFIX)}(?:\.part)?$")
            if ids
            else None
        )

    def fail_write_at(self, offset: int) -> None:
        """Fail the one write request that covers byte ``offset`` of a file; later writes succeed
        (the hole a client must not mistake for a complete file)."""
        self._fail_write_at = offset

    def write_fails(self, offset: int, size: int) -> bool:
        """Whether the write of ``size`` bytes at ``offset`` is the one ``fail_write_at`` fails."""
        target = self._fail_write_at
        if target is not None and offset <= target < offset + size:
            self._fail_write_at = None
            return True
        return False

    def bytes_before_drop(self, incoming: int) -> int | None:
        """How many of ``incoming`` bytes to write before cutting, or None not to cut."""
        with self._drop_lock:
            if self._drop_after is None or self._drops_left <= 0:
                return None
            room = self._drop_after - self._written_since_armed
            if incoming <= room:
                self._written_since_armed += incoming
                return None
            self._drops_left -= 1
            self._written_since_armed = 0
            if self._drops_left == 0:
                self._drop_after = None
            return max(room, 0)
