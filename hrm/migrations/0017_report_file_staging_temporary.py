"""The worker now copies a batch's files into a temporary table of its connection's, emptied at
commit and compressed as the report's column is (``hrm.reports.services``): the shared unlogged
table of hrm.0015 is dropped."""

from django.db import migrations

TABLE = "hrm_report_file_staging"


def _drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP TABLE IF EXISTS {TABLE}")


def _create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"CREATE UNLOGGED TABLE {TABLE} (batch uuid NOT NULL, report_id bigint NOT NULL, "
        "xml bytea NOT NULL)"
    )
    schema_editor.execute(f"ALTER TABLE {TABLE} ALTER COLUMN xml SET STORAGE EXTERNAL")
    schema_editor.execute(f"CREATE INDEX {TABLE}_batch ON {TABLE} (batch)")


class Migration(migrations.Migration):
    dependencies = [("hrm", "0016_report_queued_due")]

    operations = [migrations.RunPython(_drop, _create)]
