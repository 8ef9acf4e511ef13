"""Putting encrypted HRM files somewhere: the contract every transport keeps, and the names files
go under. The transports themselves: ``folder.FolderTransport`` (a local folder: the sandbox,
tests, a drop folder another program sends from) and ``sftp.SftpTransport`` (HRM's server).

Every transport offers the steps of one delivery, so the caller can record its progress between
them (hrm/delivery/services/outbox.py), and ``upload`` for callers that keep no record:

- ``stage(remote_name, data)`` writes ``<remote_name>.part``, every byte acknowledged;
- ``promote(remote_name)`` renames it to ``remote_name``, so a reader never sees half a file under
  the final name; a lost reply sets ``rename_unknown`` on the error;
- ``probe(remote_name, size)`` tells what an earlier attempt left: the final name, a complete or a
  short ``.part``, or nothing (on HRM's server, which takes files away, "nothing" is ambiguous:
  only the caller's record can tell "renamed and taken" from "never renamed");
- ``discard(remote_name)`` removes a ``.part``;
- ``staging(names)`` writes a batch's ``.part`` files as each is ready (``Staging``: ``write``
  each, ``drop`` one not to be written after all, then ``finish`` for each name's outcome), and
  ``stage_all(files)`` and ``promote_all(names)`` stage or rename a batch at once, each name with
  its own outcome: over SFTP with every request of a step in flight together, so a batch costs
  the round trips of one report and the server writes one file while the next is being made
  (``sftp_pipeline``); elsewhere one file after another (``StagingEach``, ``promote_each``);
- failures raise ``TransportError``: ``permanent`` when retrying cannot help (unknown host key,
  unreadable key file), ``refusal`` when the server refused our key, a permission or the folder
  (a restarting server does this too, so the caller decides how long a refusal may last), with a
  message support can act on.

Remote names come from ``remote_name_for(transaction_id)``: the Transaction ID with every
character outside ``A-Z a-z 0-9 . _ -`` replaced by ``_`` (HRM's own file names join the
``^``-separated parts of the MessageUniqueID with ``_`` in the same way), followed by
``.xml.enc``. When a character had to be replaced, or the ID is longer than 150 characters, a
12-digit hash of the full ID is added so two IDs never share a name.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from enum import StrEnum
from typing import Protocol

from hrm.error_classes import ErrorClass

REMOTE_SUFFIX = ".xml.enc"
PART_SUFFIX = ".part"
_MAX_ID_CHARS = 150  # keeps "<name>.xml.enc.part" well under the usual 255-byte file-name limit
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
_SAFE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,199}")


class UploadResult(StrEnum):
    UPLOADED = "uploaded"
    ALREADY_PRESENT = "already_present"  # delivered by an earlier attempt


class Probe(StrEnum):
    """What the server holds for one report, as a retry finds it."""

    DELIVERED = "delivered"  # the final name is there
    STAGED = "staged"  # ``<name>.part`` is there with every byte
    PARTIAL = "partial"  # ``<name>.part`` is there, short: an interrupted write
    ABSENT = "absent"  # neither (on HRM's server: never uploaded, or renamed and taken away)


class TransportError(Exception):
    """An operation failed. ``permanent``: retrying cannot succeed. ``refusal``: the server
    refused us (our key, a permission, the folder), which a restarting server also does, so the
    caller decides how long a refusal may persist. ``file_refusal``: a permission refused on one
    file's name, rather than the account's key. ``rename_unknown``: a rename's reply never came
    (or its ``.part`` was already gone), so whether the file arrived is for ``probe`` to say.
    ``advice``: what to do when the refusal is about the account rather than one file; it ends
    ``message``, and ``fact`` is the message without it, for the caller who finds the refusal is
    about the file. ``error_class``: what the error is (``ErrorClass``), decided where it is
    raised: HRM's health, the alerts and support's figures go by it, never by the words."""

    def __init__(
        self,
        message: str,
        permanent: bool,
        *,
        error_class: ErrorClass,
        refusal: bool = False,
        file_refusal: bool = False,
        rename_unknown: bool = False,
        advice: str = "",
    ):
        self.fact = message
        self.advice = advice
        self.message = f"{message}; {advice}" if advice else message
        super().__init__(self.message)
        self.permanent = permanent
        self.error_class = error_class
        self.refusal = refusal
        self.file_refusal = file_refusal
        self.rename_unknown = rename_unknown


class Staging(Protocol):
    """A batch's ``.part`` files, written as each is ready. ``write`` and ``drop`` never raise a
    transport's error: each name's outcome comes from ``finish``, None once every byte was
    acknowledged (a dropped name has none)."""

    def write(self, remote_name: str, data: bytes) -> None: ...

    def drop(self, remote_name: str) -> None: ...

    def finish(self) -> dict[str, TransportError | None]: ...


class Transport(Protocol):
    """The steps of one delivery, so the caller can record its progress between them:
    ``stage`` writes ``<name>.part`` (every byte acknowledged), ``promote`` renames it to
    ``<name>``, ``probe`` tells a retry what an earlier attempt left, ``discard`` removes a
    ``.part``. ``accepted`` counts the files renamed over the current connection."""

    accepted: int

    def probe(self, remote_name: str, size: int) -> Probe: ...

    def stage(self, remote_name: str, data: bytes) -> None: ...

    def promote(self, remote_name: str) -> None: ...

    def discard(self, remote_name: str) -> None: ...

    def staging(self, remote_names: list[str]) -> Staging: ...

    def stage_all(self, files: dict[str, bytes]) -> dict[str, TransportError | None]: ...

    def promote_all(self, names: list[str]) -> dict[str, TransportError | None]: ...

    def upload(
        self, remote_name: str, data: bytes, *, may_be_delivered: bool = True
    ) -> UploadResult: ...

    def close(self) -> None: ...


def folder_takes_files(transport: Transport) -> bool:
    """Whether the folder takes a file at all just now: an empty ``.part`` under a name no report
    has is written and removed (a ``.part`` is never collected). A permission refused on one
    report while the folder takes this one is about that report (as HRM refusing a recipient
    it does not know), not about our account or a restarting server."""
    name = f"hrm-write-check-{uuid.uuid4().hex}{REMOTE_SUFFIX}"
    try:
        transport.stage(name, b"")
        transport.discard(name)
    except TransportError:
        return False
    return True


class StagingEach:
    """``Transport.staging`` one file after another, for a transport with no round trips to
    save."""

    def __init__(self, transport: Transport):
        self.transport = transport
        self.outcome: dict[str, TransportError | None] = {}

    def write(self, remote_name: str, data: bytes) -> None:
        try:
            self.transport.stage(remote_name, data)
            self.outcome[remote_name] = None
        except TransportError as error:
            self.outcome[remote_name] = error

    def drop(self, remote_name: str) -> None:
        """Nothing was written for it."""

    def finish(self) -> dict[str, TransportError | None]:
        return self.outcome


def files_stage(transport: Transport, files: dict[str, bytes]) -> dict[str, TransportError | None]:
    """``stage_all``: every file of a batch given to one ``staging`` at once."""
    staging = transport.staging(list(files))
    for name, data in files.items():
        staging.write(name, data)
    return staging.finish()


def promote_each(transport: Transport, names: list[str]) -> dict[str, TransportError | None]:
    """``promote_all`` one file after another."""
    outcome: dict[str, TransportError | None] = {}
    for name in names:
        try:
            transport.promote(name)
            outcome[name] = None
        except TransportError as error:
            outcome[name] = error
    return outcome


def upload_in_one_go(
    transport: Transport, remote_name: str, data: bytes, *, may_be_delivered: bool = True
) -> UploadResult:
    """Stage and promote with nothing recorded in between: for callers that keep no record
    (benchmarks, tools). A final name already there counts as delivered; a rename whose reply
    was lost is looked up rather than guessed."""
    _check_remote_name(remote_name)
    if may_be_delivered and transport.probe(remote_name, len(data)) is Probe.DELIVERED:
        return UploadResult.ALREADY_PRESENT
    transport.stage(remote_name, data)
    try:
        transport.promote(remote_name)
    except TransportError as error:
        if not error.rename_unknown:
            raise
        if transport.probe(remote_name, len(data)) is not Probe.DELIVERED:
            raise
        return UploadResult.ALREADY_PRESENT
    return UploadResult.UPLOADED


def remote_name_for(transaction_id: str) -> str:
    """The file name an HRM file is uploaded under: stable for a Transaction ID, safe anywhere."""
    if not transaction_id or not transaction_id.strip():
        raise ValueError("A Transaction ID is needed to name the uploaded file.")
    safe = _UNSAFE.sub("_", transaction_id)
    safe = re.sub(r"^[.-]+", lambda leading: "_" * len(leading[0]), safe)  # no hidden files
    if safe != transaction_id or len(safe) > _MAX_ID_CHARS:
        digest = hashlib.sha256(transaction_id.encode("utf-8", "surrogatepass")).hexdigest()
        safe = f"{safe[:_MAX_ID_CHARS]}_{digest[:12]}"
    return safe + REMOTE_SUFFIX


def _check_remote_name(remote_name: str) -> None:
    if not _SAFE_NAME.fullmatch(remote_name) or remote_name.endswith(PART_SUFFIX):
        raise ValueError(
            f"{remote_name!r} is not a plain file name for an HRM upload (use remote_name_for)."
        )
