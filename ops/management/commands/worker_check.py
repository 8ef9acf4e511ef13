"""For a process supervisor on a worker host: can this host's workers reach the broker and the
database? One line, exit 0 when both answer, 1 when either does not."""

from django.core.management.base import BaseCommand

from ops.readiness import worker_checks


class Command(BaseCommand):
    help = "Check that the broker and the database answer (exit 0) or not (exit 1), in one line."
    requires_system_checks = []
    requires_migrations_checks = False

    def handle(self, *args, **options):
        checks = worker_checks()
        failing = [check for check in checks if not check.ok]
        if not failing:
            self.stdout.write("worker check ok: " + ", ".join(c.name for c in checks))
            return
        self.stdout.write(
            "worker check failing: " + "; ".join(c.line(details=True) for c in failing)
        )
        raise SystemExit(1)
