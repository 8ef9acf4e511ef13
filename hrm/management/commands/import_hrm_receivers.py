"""``manage.py import_hrm_receivers PATH [--dry-run] [--allow-mass-removal]``

Imports OntarioMD's complete current list of approved HRM receivers (CSV or XLSX). The last line
a successful run prints is ``added=A removed=R changed=C unchanged=U`` (``(dry run)`` after it for
a dry run), so scripts can read the outcome from it; a refused file or import prints its problems
to stderr and exits non-zero.
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from directory.professional_id import professional_id_display
from hrm.receiver_list import ReceiverListError
from hrm.services.receivers import MassRemovalError, receiver_list_import

# Enough to eyeball a routine update; --verbosity 2 lists everything.
SHOWN_PER_KIND = 20


class Command(BaseCommand):
    help = (
        "Import OntarioMD's list of approved HRM receivers (CSV or XLSX). The file is the "
        "complete current list: receivers missing from it are deactivated."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="The receiver list: a .csv or .xlsx file.")
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Show what would change and change nothing.",
        )
        parser.add_argument(
            "--allow-mass-removal",
            action="store_true",
            help="Apply the list even if it removes more than 10 %% of the active receivers.",
        )

    def handle(self, *args, path, dry_run, allow_mass_removal, verbosity, **options):
        file = Path(path)
        try:
            content = file.read_bytes()
        except OSError as error:
            raise CommandError(f"Cannot read {path}: {error.strerror or error}.") from error
        try:
            result = receiver_list_import(
                content=content,
                file_name=file.name,
                dry_run=dry_run,
                allow_mass_removal=allow_mass_removal,
            )
        except ReceiverListError as error:
            for problem in error.problems:
                self.stderr.write(problem)
            count = len(error.problems)
            raise CommandError(
                f"Nothing was imported: {file.name} has {count} problem{'s' if count > 1 else ''}."
            ) from error
        except MassRemovalError as error:
            self._write_changes(error.preview.diff, verbosity)
            raise CommandError(
                f"Nothing was imported. {error} If the file is right, run the command again "
                "with --allow-mass-removal."
            ) from error
        self._write_changes(result.preview.diff, verbosity)
        self.stdout.write(result.summary)

    def _write_changes(self, diff, verbosity):
        if verbosity < 1:
            return
        limit = None if verbosity >= 2 else SHOWN_PER_KIND
        self._section(
            "Added",
            [
                f"+ {professional_id_display(row.professional_id)}  "
                f"{row.first_name} {row.last_name}"
                for row in diff.added
            ],
            limit,
        )
        self._section(
            "Removed (deactivated)",
            [
                f"- {professional_id_display(gone.professional_id)}  "
                f"{gone.first_name} {gone.last_name}"
                for gone in diff.removed
            ],
            limit,
        )
        self._section(
            "Changed",
            [
                f"~ {professional_id_display(change.professional_id)}  "
                f"{change.previous_first_name} {change.previous_last_name} -> "
                f"{change.row.first_name} {change.row.last_name}"
                for change in diff.changed
            ],
            limit,
        )

    def _section(self, title, lines, limit):
        if not lines:
            return
        self.stdout.write(f"{title} ({len(lines)}):")
        shown = lines if limit is None else lines[:limit]
        for line in shown:
            self.stdout.write(f"  {line}")
        if len(shown) < len(lines):
            self.stdout.write(f"  … and {len(lines) - len(shown)} more (--verbosity 2 lists all).")
