"""A staging table for the report files the worker stores (PostgreSQL only).

Django's psycopg backend binds parameters on the client: a report's bytes would travel as an
escaped hex literal twice their size, for the server to parse. ``COPY ... (FORMAT BINARY)``
through Django's own cursor sends them as they are, but only into a table: the worker copies a
batch's files here, then moves them into ``hrm_hrmreport`` with one ``UPDATE``
(``hrm.reports.services._xml_store_first_postgresql``). Unlogged (rows live for one
transaction, so nothing here needs to survive a crash) and stored without compression (the
report's own column compresses them once, with lz4). The demo's SQLite stores through the ORM
and has no such table.
"""

from django.db import migrations

TABLE = "hrm_report_file_staging"


def _create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"CREATE UNLOGGED TABLE {TABLE} (batch uuid NOT NULL, report_id bigint NOT NULL, "
        "xml bytea NOT NULL)"
    )
    schema_editor.execute(f"ALTER TABLE {TABLE} ALTER COLUMN xml SET STORAGE EXTERNAL")
    schema_editor.execute(f"CREATE INDEX {TABLE}_batch ON {TABLE} (batch)")


def _drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP TABLE IF EXISTS {TABLE}")


class Migration(migrations.Migration):
    dependencies = [("hrm", "0014_dashboard_indexes")]

    operations = [migrations.RunPython(_create, _drop)]
