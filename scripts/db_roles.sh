#!/usr/bin/env bash
# The two database roles (docs/security.md, "Two database roles"), and their database: the owner
# role owns every table and is used only by `manage.py migrate` (DATABASE_OWNER_URL); the runtime
# role, which the web processes and workers connect as (DATABASE_URL), reads and writes rows but
# owns nothing and may only INSERT and SELECT the access trail.
#
#   scripts/db_roles.sh DATABASE [OWNER_ROLE] [RUNTIME_ROLE]
#
# Roles default to ereferral_owner and ereferral_app. Safe to run again, also on a database that
# was migrated before the roles were split (first hand its tables to the owner:
# REASSIGN OWNED BY <old role> TO <owner role>, in that database). Connects with psql as a
# superuser: PGHOST, PGPORT, PGUSER (default postgres@127.0.0.1:5432), PGPASSWORD as usual.
# OWNER_PASSWORD and RUNTIME_PASSWORD set the roles' passwords (leave them out for peer or trust
# authentication).
set -euo pipefail
database=${1:?usage: scripts/db_roles.sh DATABASE [OWNER_ROLE] [RUNTIME_ROLE]}
owner=${2:-ereferral_owner}
runtime=${3:-ereferral_app}
export PGHOST=${PGHOST:-127.0.0.1} PGPORT=${PGPORT:-5432} PGUSER=${PGUSER:-postgres}
psql_as_superuser() {
  psql -X -q -v ON_ERROR_STOP=1 -v owner="$owner" -v runtime="$runtime" -v database="$database" \
    -v owner_password="${OWNER_PASSWORD:-}" -v runtime_password="${RUNTIME_PASSWORD:-}" "$@"
}

psql_as_superuser -d postgres <<'SQL'
SELECT format('CREATE ROLE %I LOGIN', role)
FROM unnest(ARRAY[:'owner', :'runtime']) AS role
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = role)
\gexec
-- The runtime role is an ordinary role: no superuser, no CREATEDB, no CREATEROLE, no BYPASSRLS.
SELECT format('ALTER ROLE %I NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS NOREPLICATION', :'runtime')
\gexec
SELECT format('ALTER ROLE %I PASSWORD %L', :'owner', :'owner_password') WHERE :'owner_password' <> ''
\gexec
SELECT format('ALTER ROLE %I PASSWORD %L', :'runtime', :'runtime_password') WHERE :'runtime_password' <> ''
\gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'database', :'owner')
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'database')
\gexec
SQL

psql_as_superuser -d "$database" <<'SQL'
ALTER DATABASE :"database" OWNER TO :"owner";
REVOKE ALL ON DATABASE :"database" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"database" TO :"runtime";
ALTER SCHEMA public OWNER TO :"owner";
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO :"runtime";
-- Every table and sequence the owner's migrations create from now on...
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO :"runtime";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public
    GRANT USAGE, SELECT ON SEQUENCES TO :"runtime";
-- ...and those already there.
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO :"runtime";
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO :"runtime";
-- The access trail: INSERT and SELECT only. Its migration (audit 0002) revokes the same from a
-- table created after this script ran.
SELECT format(
    'REVOKE UPDATE, DELETE, TRUNCATE, TRIGGER, REFERENCES ON audit_accessentry FROM %I, PUBLIC',
    :'runtime')
WHERE to_regclass('public.audit_accessentry') IS NOT NULL
\gexec
SQL
echo "Roles ready on database $database: owner $owner (DATABASE_OWNER_URL, migrate only), runtime $runtime (DATABASE_URL)."
