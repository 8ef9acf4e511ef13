"""Peak memory of one HRM report with a 10 MB PDF attached, as a multiple of its file's size.

Run from the repository root: ``.venv/bin/python bench/report_memory.py``. No Django, no network.

Each step is measured alone with ``tracemalloc`` (Python's allocations; lxml's own C buffers are
not seen), its peak divided by the size of the built XML file:
- build: ``report_build`` (the PDF is already in memory and not counted): the file cut to its
  base64's head, then written whole (``BuiltFile.whole``);
- validate: ``report_validate`` on the whole file (schema and receiver rules), as a receiver's
  check of any file would;
- build+validate, as the worker does (``report_xml_build``): the cut file built and validated,
  then the whole file written;
- encrypt: ``report_encrypt`` of the built file;
- worker: what the worker does with a stored file before the upload is done: the row's bytes as
  the database driver hands them over, encrypted, then written by the SFTP transport's
  ``files_write`` (every write in flight at once) into a stand-in for paramiko's SFTP client
  that packs each request into a paramiko ``Message``, as paramiko does, answers OK and keeps
  nothing.
The goal (issue 22) is at most 2x for each step.
"""

from __future__ import annotations

import os
import sys
import tracemalloc
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import paramiko  # noqa: E402
from paramiko.sftp import CMD_HANDLE, CMD_OPEN, CMD_STATUS, SFTP_OK, int64  # noqa: E402

from bench.hrm_build import SCHEMA, sample_reports  # noqa: E402
from hrm.delivery.transports.sftp_pipeline import files_write  # noqa: E402
from hrm.reports.build import report_build, report_file_build  # noqa: E402
from hrm.reports.crypto import report_encrypt  # noqa: E402
from hrm.reports.types import ReportFile  # noqa: E402
from hrm.reports.validation import report_validate, schema_load  # noqa: E402

KEY = "000102030405060708090a0b0c0d0e0f"
PDF_BYTES = 10 * 1024 * 1024


class InMemorySftp:
    """Takes requests as paramiko's SFTP client does (each packed into its own ``Message``, the
    data a slice of a memoryview), answers each in order with a handle or an OK status, and
    keeps nothing but the replies not yet read."""

    def __init__(self) -> None:
        self._number = 0
        self._waiting: list[tuple[object, int, int]] = []
        # the channel, for the packet size its server announced (OpenSSH's and asyncssh's)
        self.sock = types.SimpleNamespace(out_max_packet_size=32_768)

    def _async_request(self, fileobj, kind: int, *args) -> int:
        message = paramiko.Message()
        message.add_int(self._number)
        for item in args:
            if isinstance(item, int64):
                message.add_int64(item)
            elif isinstance(item, int):
                message.add_int(item)
            elif isinstance(item, paramiko.SFTPAttributes):
                item._pack(message)
            else:
                message.add_string(item)
        message.asbytes()  # the packet paramiko sends
        self._number += 1
        self._waiting.append((fileobj, kind, self._number - 1))
        return self._number - 1

    def _read_response(self) -> None:
        fileobj, kind, number = self._waiting.pop(0)
        reply = paramiko.Message()
        if kind == CMD_OPEN:
            reply.add_string(b"handle")
            fileobj._async_response(CMD_HANDLE, paramiko.Message(reply.asbytes()), number)
        else:
            reply.add_int(SFTP_OK)
            reply.add_string("")
            fileobj._async_response(CMD_STATUS, paramiko.Message(reply.asbytes()), number)

    def _convert_status(self, message: paramiko.Message) -> None:
        paramiko.SFTPClient._convert_status(self, message)


def upload_in_memory(data: bytes) -> None:
    """``files_write`` of one file to ``InMemorySftp``, as the worker writes it."""
    with memoryview(data) as view:
        assert files_write(InMemorySftp(), {"r.xml.enc.part": view}) == {"r.xml.enc.part": None}


def _peak(step) -> int:
    tracemalloc.start()
    tracemalloc.reset_peak()
    try:
        step()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def worker_build(report) -> bytes:
    built = report_file_build(report)
    report_validate(built.checked, SCHEMA)
    return built.whole()


def main() -> None:
    base = next(r for r in sample_reports().values() if isinstance(r.content, ReportFile))
    pdf = b"%PDF-1.7\n" + os.urandom(PDF_BYTES - 9)
    report = base.__class__(**{**base.__dict__, "content": ReportFile(pdf, ".pdf")})
    schema_load(SCHEMA)  # parsed once per process, not per report
    xml = report_build(report)
    stored = bytes(xml)  # what the database driver (psycopg 3) hands over for the row's bytea
    steps = {
        "build": lambda: report_build(report),
        "validate": lambda: report_validate(xml, SCHEMA),
        "build+validate": lambda: worker_build(report),
        "encrypt": lambda: report_encrypt(xml, KEY),
        "worker": lambda: upload_in_memory(report_encrypt(stored, KEY)),
    }
    print(f"PDF {len(pdf):,} bytes, XML {len(xml):,} bytes; peak / XML size (goal <= 2.0x)")
    for name, step in steps.items():
        peak = _peak(step)
        print(f"{name:>14}: {peak / len(xml):4.2f}x  ({peak:,} bytes)")


if __name__ == "__main__":
    main()
