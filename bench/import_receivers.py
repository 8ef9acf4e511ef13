"""Benchmark: import OntarioMD's receiver list of 50,000 clinicians.

    .venv/bin/python bench/import_receivers.py [--rows 50000]

Runs against PostgreSQL in a throwaway database (``bench_receivers``, created, migrated and dropped
again), with the same service the ``import_hrm_receivers`` command uses:

1. the first import into an empty list;
2. the same file again (everything unchanged: no writes to the receivers);
3. a file in which 1 % of the receivers changed names;

then empties the table and lets django-import-export (the ``bench`` extra in pyproject.toml) do
the same first import, configured as one reasonably would for this model (bulk writes, rows
matched on the Professional ID, unchanged rows skipped), and prints the ratio. It also prints
django-import-export tuned for an empty table, to show the margin is not only its row lookups.

The server is the one the tests use: ``BENCH_POSTGRES_URL`` (default
``postgres://postgres@127.0.0.1:5432/postgres``) names the maintenance database to connect to
for creating and dropping the benchmark database.
"""

import argparse
import csv
import io
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _support import throwaway_django

DATABASE = "bench_receivers"
TARGET_SECONDS = 5.0
TARGET_RATIO = 10.0

FIRST_NAMES = [
    "Alice", "François", "Priya", "Grace", "Sam", "Hélène", "Zoë", "Mohammed", "Wei", "Olusegun",
    "Chloé", "Andrés", "Siobhan", "Raj", "Ana", "Björn", "Noémie", "Kwame", "Mei", "Jean-Luc",
]  # fmt: skip
LAST_NAMES = [
    "Nguyen", "Lee", "Patel", "Okafor", "Tremblay", "Côté", "Gagnon", "Roy", "Singh", "Wong",
    "Lefèvre-D'Amour", "O'Brien", "Martin", "Bouchard", "Li", "Smith", "Brown", "Chen", "Ahmed",
]  # fmt: skip


def _receivers(count: int, seed: int = 2026) -> list[tuple[str, str, str, str]]:
    """``count`` distinct receivers: (Professional ID, first name, last name, licence type), about
    four CPSO numbers for each CNO number, as on OntarioMD's list."""
    rng = random.Random(seed)
    cpso = rng.sample(range(10_000, 999_999), int(count * 0.8))
    cno = rng.sample(range(1_000_000, 9_999_999), count - len(cpso))
    ids = [(f"D{n}", "CPSO") for n in cpso] + [(f"N{n}", "CNO") for n in cno]
    rng.shuffle(ids)
    return [(pid, rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES), licence) for pid, licence in ids]


def _write_csv(path: Path, receivers) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(["Professional ID", "First Name", "Last Name", "Licence Type"])
    writer.writerows(receivers)
    content = buffer.getvalue().encode("utf-8")
    path.write_bytes(content)
    return content


def _timed(function):
    started = time.perf_counter()
    result = function()
    return time.perf_counter() - started, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=50_000)
    args = parser.parse_args()

    with throwaway_django(DATABASE):
        return _run(args.rows)


def _run(rows: int) -> int:
    from django.db import connection

    from hrm.models import HrmReceiver, ReceiverImport
    from hrm.receivers.services import receiver_list_import

    receivers = _receivers(rows)
    rng = random.Random(7)
    changed = list(receivers)
    for index in rng.sample(range(rows), rows // 100):
        pid, first, last, licence = changed[index]
        changed[index] = (pid, first, f"{last}-Renamed", licence)

    with tempfile.TemporaryDirectory(prefix="bench-receivers-") as folder:
        first_file = Path(folder) / "receivers.csv"
        changed_file = Path(folder) / "receivers-1pct-changed.csv"
        first_content = _write_csv(first_file, receivers)
        changed_content = _write_csv(changed_file, changed)
        print(
            f"Receiver list: {rows:,} rows, {len(first_content) / 1e6:.1f} MB "
            f"(PostgreSQL {connection.pg_version // 10000}, database {DATABASE})"
        )

        def ours(content, name):
            return lambda: receiver_list_import(
                content=content, file_name=name, actor_name="benchmark"
            )

        first_s, first = _timed(ours(first_content, first_file.name))
        again_s, again = _timed(ours(first_content, first_file.name))
        changed_s, after_change = _timed(ours(changed_content, changed_file.name))
        assert HrmReceiver.objects.filter(is_active=True).count() == rows
        print(f"first import          {first_s:7.2f} s   {first.summary}")
        print(f"same file again       {again_s:7.2f} s   {again.summary}")
        print(f"1 % changed           {changed_s:7.2f} s   {after_change.summary}")

        reasonable_s = _import_export(first_content, rows, tuned=False)
        tuned_s = _import_export(first_content, rows, tuned=True)

    ratio = reasonable_s / first_s
    print(
        f"django-import-export  {reasonable_s:7.2f} s   first import, bulk, rows matched on "
        "Professional ID, unchanged rows skipped"
    )
    print(
        f"django-import-export  {tuned_s:7.2f} s   first import tuned for an empty table "
        "(no row lookups, no diffs)"
    )
    print(f"ratio                 {ratio:7.1f} x   (tuned: {tuned_s / first_s:.1f} x)")
    met = first_s < TARGET_SECONDS and ratio >= TARGET_RATIO
    print(
        f"target: first import under {TARGET_SECONDS:.0f} s and at least {TARGET_RATIO:.0f} x "
        f"faster: {'met' if met else 'NOT MET'}"
    )
    ReceiverImport.objects.all().delete()
    return 0 if met else 1


def _import_export(content: bytes, rows: int, *, tuned: bool) -> float:
    import tablib
    from import_export import fields, resources

    from hrm.models import HrmReceiver

    class ReceiverResource(resources.ModelResource):
        professional_id = fields.Field(attribute="professional_id", column_name="Professional ID")
        first_name = fields.Field(attribute="first_name", column_name="First Name")
        last_name = fields.Field(attribute="last_name", column_name="Last Name")

        class Meta:
            model = HrmReceiver
            fields = ("professional_id", "first_name", "last_name")
            import_id_fields = ("professional_id",)
            use_bulk = True
            batch_size = 1000
            skip_unchanged = not tuned
            report_skipped = False
            skip_diff = tuned
            force_init_instance = tuned

    HrmReceiver.objects.all().delete()

    def run():
        dataset = tablib.Dataset().load(content.decode("utf-8"), format="csv")
        return ReceiverResource().import_data(dataset, raise_errors=True, use_transactions=True)

    seconds, result = _timed(run)
    assert not result.has_errors()
    assert HrmReceiver.objects.count() == rows, HrmReceiver.objects.count()
    return seconds


if __name__ == "__main__":
    sys.exit(main())
