"""Several SFTP requests in flight on one channel: a batch's files written, or renamed, in the round
trips of one file.

paramiko's public calls each wait for their reply (an open, a close, a rename: one round trip
each), so a report cost four round trips however small. Its request layer, which its own pipelined
writes and prefetching use, sends a request with a numbered id and hands the reply to whichever
object was registered for that id; here that object is ``_Replies``. paramiko is pinned in the
lock file, and tests/hrm/test_sftp_pipeline.py runs these against a real SFTP server, failures
included.

A server may answer out of order, but it processes the requests on one handle in the order they
came; every write's status is still checked, not only the close's (a full disk refuses one write
and accepts the close).
"""

from __future__ import annotations

from collections.abc import Iterable

import paramiko
from paramiko.sftp import (
    CMD_CLOSE,
    CMD_EXTENDED,
    CMD_HANDLE,
    CMD_OPEN,
    CMD_REMOVE,
    CMD_STATUS,
    CMD_WRITE,
    SFTP_FLAG_CREATE,
    SFTP_FLAG_TRUNC,
    SFTP_FLAG_WRITE,
    int64,
)

_CHUNK = paramiko.SFTPFile.MAX_REQUEST_SIZE
_CHANNEL_KEEPS = 64  # paramiko's channel sends at most its peer's packet size less this
_WRITE_FLAGS = SFTP_FLAG_WRITE | SFTP_FLAG_CREATE | SFTP_FLAG_TRUNC


class _Replies:
    """Receives the replies to the requests sent on its behalf, by request id."""

    def __init__(self) -> None:
        self.received: dict[int, tuple[int, paramiko.Message]] = {}

    def _async_response(self, kind: int, message: paramiko.Message, number: int) -> None:
        self.received[number] = (kind, message)


def _send(sftp: paramiko.SFTPClient, replies: _Replies, kind: int, *args) -> int:
    return sftp._async_request(replies, kind, *args)


def _collect(sftp: paramiko.SFTPClient, replies: _Replies, numbers: Iterable[int]) -> None:
    """Read replies until each of ``numbers`` has one (a lost connection or the channel's timeout
    raises, as paramiko's own calls do)."""
    for number in numbers:
        while number not in replies.received:
            sftp._read_response()


def _status_error(
    sftp: paramiko.SFTPClient, kind: int, message: paramiko.Message
) -> Exception | None:
    """None for an OK status; otherwise the exception paramiko's own call would have raised (an
    ``OSError`` with its errno for a refused permission or a missing path)."""
    if kind != CMD_STATUS:
        return paramiko.SFTPError(f"unexpected SFTP reply {kind} to a request wanting a status")
    try:
        sftp._convert_status(message)
    except (OSError, EOFError) as error:
        return error
    return None


def _chunk_for(sftp: paramiko.SFTPClient, handle: bytes) -> int:
    """The most bytes a write request can carry in one SSH packet. paramiko's own writes carry
    32,768, a little more than one packet holds, so each went out as a full packet and a packet
    of a hundred bytes, each encrypted, signed and sent on its own."""
    # the request: its length, type, id, the handle (length and bytes), offset, the data's length
    header = 4 + 1 + 4 + 4 + len(handle) + 8 + 4
    room = sftp.sock.out_max_packet_size - _CHANNEL_KEEPS - header
    return max(1024, min(_CHUNK, room))


class FileWrites:
    """Files written on one channel as each becomes ready: the opens sent ahead when the batch
    begins (one round trip, under the time the first file takes to make), then each file's writes
    and close sent without waiting as soon as it is given (``write``), and every status collected
    at the end (``finish``). A file not given after all is closed and removed (``drop``).

    Files are given in the order of ``paths``; at most ``open_at_once`` are open on the server at
    a time: a file's open is sent as the file that many places before it is given, by which time
    the server has taken the earlier files' closes (it takes a channel's requests in order)."""

    def __init__(self, sftp: paramiko.SFTPClient, paths: Iterable[str], *, open_at_once: int = 0):
        self.sftp = sftp
        self.replies = _Replies()
        self.order = list(paths)
        self.place = {path: index for index, path in enumerate(self.order)}
        self.window = open_at_once or len(self.order)
        self.opened = 0  # how many of ``order`` have had their open sent
        self.opens: dict[str, int] = {}
        self.outcome: dict[str, Exception | None] = {}
        self.requests: dict[str, list[int]] = {}
        self.dropped: list[int] = []
        self._open_ahead(0)

    def _open_ahead(self, place: int) -> None:
        """Send the opens up to ``window`` files from ``place`` on."""
        last = min(len(self.order), place + self.window)
        while self.opened < last:
            path = self.order[self.opened]
            self.opens[path] = _send(
                self.sftp, self.replies, CMD_OPEN, path, _WRITE_FLAGS, paramiko.SFTPAttributes()
            )
            self.opened += 1

    def _handle(self, path: str) -> bytes | None:
        """The open file's handle (waiting for it if need be), or None with the path's error."""
        self._open_ahead(self.place[path])
        number = self.opens.pop(path)
        _collect(self.sftp, self.replies, [number])
        kind, message = self.replies.received.pop(number)
        if kind == CMD_HANDLE:
            return message.get_binary()
        self.outcome[path] = _status_error(self.sftp, kind, message) or paramiko.SFTPError(
            "the server sent no handle for an opened file"
        )
        return None

    def write(self, path: str, data: memoryview) -> None:
        """Send ``path``'s bytes from the start, and its close, without waiting."""
        handle = self._handle(path)
        if handle is None:
            return
        sftp, replies = self.sftp, self.replies
        chunk = _chunk_for(sftp, handle)
        numbers = [
            _send(sftp, replies, CMD_WRITE, handle, int64(offset), data[offset : offset + chunk])
            for offset in range(0, len(data), chunk)
        ]
        numbers.append(_send(sftp, replies, CMD_CLOSE, handle))
        self.requests[path] = numbers

    def drop(self, path: str) -> None:
        """``path`` will not be written: its empty file is closed and removed (whatever the
        server answers, a ``.part`` is never collected)."""
        handle = self._handle(path)
        if handle is not None:
            self.dropped.append(_send(self.sftp, self.replies, CMD_CLOSE, handle))
            self.dropped.append(_send(self.sftp, self.replies, CMD_REMOVE, path))

    def finish(self) -> dict[str, Exception | None]:
        """Each written path's first failure, or None when every write and the close were
        acknowledged; a path never given is dropped, or never opened."""
        del self.order[self.opened :]  # nothing more to open
        for path in list(self.opens):
            self.drop(path)
        numbers = [number for numbers in self.requests.values() for number in numbers]
        _collect(self.sftp, self.replies, [*numbers, *self.dropped])
        for path, numbers in self.requests.items():
            errors = (_status_error(self.sftp, *self.replies.received.pop(n)) for n in numbers)
            self.outcome[path] = next((error for error in errors if error is not None), None)
        return self.outcome


def files_write(
    sftp: paramiko.SFTPClient, files: dict[str, memoryview], *, open_at_once: int = 0
) -> dict[str, Exception | None]:
    """Write each file (path → bytes) from the start, truncating what was there, and close it:
    every open at once (one round trip), then every write and close without waiting (one more,
    plus the time the bytes take). Returns each path's first failure, or None when every write
    and the close were acknowledged."""
    writes = FileWrites(sftp, files, open_at_once=open_at_once)
    for path, data in files.items():
        writes.write(path, data)
    return writes.finish()


def files_rename(
    sftp: paramiko.SFTPClient, renames: dict[str, str]
) -> tuple[dict[str, Exception | None], Exception | None]:
    """Rename each file (old path → new path) with ``posix-rename@openssh.com``, every request sent
    at once. Returns each old path's outcome as far as replies came, and the error that stopped
    the replies (the connection lost, a timeout): the paths without a reply then have an unknown
    outcome."""
    replies = _Replies()
    numbers: dict[str, int] = {}
    stopped = None
    try:
        for old, new in renames.items():
            numbers[old] = _send(sftp, replies, CMD_EXTENDED, "posix-rename@openssh.com", old, new)
        _collect(sftp, replies, numbers.values())
    except (OSError, EOFError, paramiko.SSHException) as error:  # what paramiko's calls raise
        stopped = error
    outcome = {
        old: _status_error(sftp, *replies.received[number])
        for old, number in numbers.items()
        if number in replies.received
    }
    return outcome, stopped
