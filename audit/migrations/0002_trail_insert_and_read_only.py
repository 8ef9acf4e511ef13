"""The access trail, for every role but the one that owns it: INSERT and SELECT only.

Migrations run as the owner role (DATABASE_OWNER_URL). Its default privileges give the runtime
role (DATABASE_URL) SELECT, INSERT, UPDATE and DELETE on every table it creates
(scripts/db_roles.sh), this one included: here every role but the owner loses UPDATE, DELETE,
TRUNCATE, TRIGGER and REFERENCES on the trail. Without ownership, no role can ALTER the table
or DISABLE its trigger either (audit/checks.py refuses to start when the runtime role owns it).
With one role for everything (the tests), there is nothing to revoke."""

from django.db import migrations

_REVOKE_FROM_EVERY_OTHER_ROLE = """
DO $$
DECLARE
    grantee_name text;
BEGIN
    FOR grantee_name IN
        SELECT DISTINCT CASE WHEN acl.grantee = 0 THEN 'PUBLIC'
                             ELSE quote_ident(pg_get_userbyid(acl.grantee)) END
        FROM pg_class AS trail, aclexplode(trail.relacl) AS acl
        WHERE trail.oid = 'audit_accessentry'::regclass
          AND acl.grantee <> trail.relowner
          AND acl.privilege_type IN ('UPDATE', 'DELETE', 'TRUNCATE', 'TRIGGER', 'REFERENCES')
    LOOP
        EXECUTE format(
            'REVOKE UPDATE, DELETE, TRUNCATE, TRIGGER, REFERENCES ON audit_accessentry FROM %s',
            grantee_name
        );
    END LOOP;
END
$$;
"""


def _revoke(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(_REVOKE_FROM_EVERY_OTHER_ROLE, params=None)


class Migration(migrations.Migration):

    dependencies = [
        ("audit", "0001_access_entry"),
    ]

    operations = [migrations.RunPython(_revoke, migrations.RunPython.noop)]
