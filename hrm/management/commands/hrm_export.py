"""Write the exact plain XML of stored HRM reports to a folder, for support to inspect or send to
OntarioMD: the bytes that are (or were) encrypted and uploaded, one file per report."""

import getpass
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from hrm.delivery.transports import REMOTE_SUFFIX, remote_name_for
from hrm.models import HrmReport
from referrals.access import Action, referral_access_record


def export_name_for(transaction_id: str) -> str:
    """The Transaction ID made safe for a file name, as on the HRM server, ending in ``.xml``."""
    return remote_name_for(transaction_id).removesuffix(REMOTE_SUFFIX) + ".xml"


class Command(BaseCommand):
    help = "Export stored HRM reports as plain XML files named by their Transaction ID."

    def add_arguments(self, parser):
        parser.add_argument("directory", type=Path)
        parser.add_argument("--message", type=int, help="Only the reports of this message ID.")

    def handle(self, *args, directory: Path, message: int | None, **options):
        reports = HrmReport.objects.order_by("id")
        if message is not None:
            reports = reports.filter(message_id=message)
            if not reports.exists():
                raise CommandError(f"Message {message} has no HRM reports.")
        directory.mkdir(parents=True, exist_ok=True)
        count = not_built = 0
        # Each exported file carries a patient's information: the export goes in the access trail.
        operator = f"{getpass.getuser()} (shell: hrm_export)"
        reports = reports.select_related("message__referral").defer("message__text")
        for report in reports.iterator(chunk_size=50):
            if not report.xml:
                # Built by the worker on the first attempt; nothing was sent for it yet.
                not_built += 1
                continue
            (directory / export_name_for(report.transaction_id)).write_bytes(bytes(report.xml))
            referral_access_record(
                None,
                report.message.referral,
                action=Action.EXPORTED,
                record="HRM report file",
                object_id=report.pk,
                detail=f"{report.transaction_id} to {directory}"[:500],
                actor_username=operator,
            )
            count += 1
        self.stdout.write(f"Exported {count} report{'s' if count != 1 else ''} to {directory}")
        if not_built:
            self.stdout.write(
                f"{not_built} report(s) not built yet (waiting for their first delivery attempt)."
            )
