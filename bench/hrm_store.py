"""What storing one report's exact bytes costs in PostgreSQL, the way the worker stores them and
the ways it could.

Run from the repository root: ``.venv/bin/python bench/hrm_store.py``. It builds a report
carrying a 200 KB PDF (about 270 KB of XML), once from a compressible PDF (the benchmarks' letter)
and once from an incompressible one (as real, internally compressed PDFs are), and stores it into
empty rows of a scratch table in a throwaway database:

- bound on the client (Django's default with psycopg 3: the bytes become an escaped hex literal;
  the ORM twin, the demo's SQLite), as a binary parameter on a bare psycopg cursor (what the
  worker did until issue 22: it bypassed Django's cursor), or copied in binary through Django's
  cursor into an unlogged staging table and moved by one ``UPDATE`` in a transaction (what
  ``hrm.reports.services`` did from issue 22's fast paths), or the same through a temporary
  table of the connection's, emptied at commit and compressed as the column is (what it does
  since ``hrm.0017``);
- with the column compressed by pglz (PostgreSQL's default) or lz4 (what migration 0003 sets).

Each way stores 16 files a transaction, as a worker's attempt stores its batch's. Prints the
median milliseconds per stored file. Bounded: a few hundred rows per case.
"""

import dataclasses
import os
import statistics
import sys
import time
import tracemalloc
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _support import throwaway_django
from hrm_build import sample_reports

ROWS = 320
BATCH = 16  # files stored together, as a worker's attempt stores its batch's


def main() -> None:
    with throwaway_django(f"bench_store_{os.getpid()}"):
        run()


def report_xml(pdf: bytes) -> bytes:
    from hrm.reports.build import report_build
    from hrm.reports.types import ReportFile

    sample = sample_reports()["attachment (51 KB PDF)"]
    return report_build(dataclasses.replace(sample, content=ReportFile(pdf, ".pdf")))


def run() -> None:
    import psycopg
    from django.db import connection, transaction

    from referrals.sample_files import consultation_letter_pdf

    files = {
        "compressible PDF": report_xml(consultation_letter_pdf(["Letter"], padding_bytes=200_000)),
        "incompressible PDF": report_xml(b"%PDF-1.7\n" + os.urandom(200_000)),
    }
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE bench_store (id int PRIMARY KEY, xml bytea NOT NULL)")
        cursor.execute("CREATE UNLOGGED TABLE bench_staged (batch uuid, id int, xml bytea)")
        cursor.execute("ALTER TABLE bench_staged ALTER COLUMN xml SET STORAGE EXTERNAL")
    connection.ensure_connection()
    raw = connection.connection

    def client_bound(rows: list[int], xml: bytes) -> None:
        with transaction.atomic(), connection.cursor() as cursor:
            for row in rows:
                cursor.execute("UPDATE bench_store SET xml = %s WHERE id = %s", [xml, row])

    def binary(rows: list[int], xml: bytes) -> None:
        with transaction.atomic(), psycopg.Cursor(raw) as cursor:
            for row in rows:
                cursor.execute("UPDATE bench_store SET xml = %b WHERE id = %s", [xml, row])

    def copy_in(cursor, table: str, rows: list[int], xml: bytes) -> uuid.UUID:
        """Each row's file copied in binary into ``table``, under a new batch id."""
        batch = uuid.uuid4()
        with cursor.copy(f"COPY {table} (batch, id, xml) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["uuid", "int4", "bytea"])
            for row in rows:
                copy.write_row((batch, row, xml))
        return batch

    def copied(rows: list[int], xml: bytes) -> None:
        with transaction.atomic(), connection.cursor() as cursor:
            batch = copy_in(cursor, "bench_staged", rows, xml)
            cursor.execute(
                "WITH new AS (DELETE FROM bench_staged WHERE batch = %s RETURNING id, xml) "
                "UPDATE bench_store SET xml = new.xml FROM new WHERE bench_store.id = new.id",
                [batch],
            )

    def temporary(rows: list[int], xml: bytes, compression: str) -> None:
        # As hrm.reports.services: lz4 as the column, or stored as it comes beside pglz.
        kept = "COMPRESSION lz4" if compression == "lz4" else ""
        later = "" if kept else "ALTER TABLE bench_new ALTER COLUMN xml SET STORAGE EXTERNAL; "
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "DO $$ BEGIN IF to_regclass('pg_temp.bench_new') IS NULL THEN "
                "CREATE TEMPORARY TABLE bench_new (batch uuid NOT NULL, id int NOT NULL, "
                f"xml bytea {kept} NOT NULL) ON COMMIT DELETE ROWS; {later}END IF; END $$"
            )
            batch = copy_in(cursor, "bench_new", rows, xml)
            cursor.execute(
                "UPDATE bench_store SET xml = new.xml FROM bench_new new "
                "WHERE new.batch = %s AND bench_store.id = new.id",
                [batch],
            )

    print(
        f"Storing reports' XML in PostgreSQL, {BATCH} files a transaction, median over {ROWS} "
        "rows (ms per file)"
    )
    for compression in ("pglz", "lz4"):
        for name, xml in files.items():
            for way, store in (
                ("client-bound", client_bound),
                ("binary", binary),
                ("COPY, staged", copied),
                ("COPY, temporary", lambda rows, xml, c=compression: temporary(rows, xml, c)),
            ):
                with connection.cursor() as cursor:
                    cursor.execute("TRUNCATE bench_store")
                    cursor.execute("DROP TABLE IF EXISTS bench_new")  # compressed as the column
                    cursor.execute(
                        f"ALTER TABLE bench_store ALTER COLUMN xml SET COMPRESSION {compression}"
                    )
                    cursor.execute(
                        "INSERT INTO bench_store SELECT g, '' FROM generate_series(1, %s) g", [ROWS]
                    )
                timings = []
                for first in range(1, ROWS + 1, BATCH):
                    started = time.perf_counter()
                    store(list(range(first, first + BATCH)), xml)
                    timings.append((time.perf_counter() - started) * 1000 / BATCH)
                print(
                    f"  {compression:<5} {name:<19} {len(xml) // 1024} KB  {way:<16} "
                    f"{statistics.median(timings):6.2f}"
                )

    # Python's peak allocations while one large file is stored, as a multiple of its size
    # (tracemalloc, as bench/report_memory.py measures; libpq's own buffers are not seen).
    big = os.urandom(14_000_000)
    print(f"Peak memory storing one {len(big):,}-byte file, as a multiple of its size")
    for way, store in (("client-bound", client_bound), ("COPY, staged", copied)):
        with connection.cursor() as cursor:
            cursor.execute("UPDATE bench_store SET xml = '' WHERE id = 1")
        tracemalloc.start()
        store([1], big)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(f"  {way:<13} {peak / len(big):.2f}x")


if __name__ == "__main__":
    main()
