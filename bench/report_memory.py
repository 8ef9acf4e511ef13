"""Peak memory of one HRM report with a 10 MB PDF attached, as a multiple of its file's size.

Run from the repository root: ``.venv/bin/python bench/report_memory.py``. No Django, no network.

Each step is measured alone with ``tracemalloc`` (Python's allocations; lxml's own C buffers are
not seen), its peak divided by the size of the built XML file:
- build: ``report_build`` (the PDF is already in memory and not counted);
- validate: ``report_validate`` on the built file (schema and receiver rules);
- encrypt: ``report_encrypt`` of the built file;
- worker: what the worker does with a stored file before the upload is done: the row's bytes as
  the database driver hands them over, encrypted, then written by the SFTP transport's
  ``_write_acknowledged`` into a file object that chunks like paramiko's and keeps nothing.
The goal (issue 22) is at most 2x for each step.
"""

from __future__ import annotations

import os
import sys
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.hrm_build import SCHEMA, sample_reports  # noqa: E402
from hrm.delivery.transports.sftp import _write_acknowledged  # noqa: E402
from hrm.reports.build import report_build  # noqa: E402
from hrm.reports.crypto import report_encrypt  # noqa: E402
from hrm.reports.types import ReportFile  # noqa: E402
from hrm.reports.validation import report_validate, schema_load  # noqa: E402

KEY = "000102030405060708090a0b0c0d0e0f"
PDF_BYTES = 10 * 1024 * 1024


class _Remote:
    """Takes writes as paramiko's SFTPFile does (a memoryview over the data, sent in requests of
    at most MAX_REQUEST_SIZE bytes, each packed into its own message) and keeps nothing."""

    MAX_REQUEST_SIZE = 32768

    def set_pipelined(self, pipelined: bool) -> None:
        pass

    def write(self, data) -> None:
        view = memoryview(data)
        while len(view):
            bytes(view[: self.MAX_REQUEST_SIZE])  # the request's packet
            view = view[self.MAX_REQUEST_SIZE :]


def _peak(step) -> int:
    tracemalloc.start()
    tracemalloc.reset_peak()
    try:
        step()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


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
        "encrypt": lambda: report_encrypt(xml, KEY),
        "worker": lambda: _write_acknowledged(_Remote(), report_encrypt(stored, KEY)),
    }
    print(f"PDF {len(pdf):,} bytes, XML {len(xml):,} bytes; peak / XML size (goal <= 2.0x)")
    for name, step in steps.items():
        peak = _peak(step)
        print(f"{name:>9}: {peak / len(xml):4.2f}x  ({peak:,} bytes)")


if __name__ == "__main__":
    main()
