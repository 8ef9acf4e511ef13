-- The two database roles (docs/operations.md): the owner, which owns the schema and is used only
-- by `manage.py migrate` (DATABASE_OWNER_URL), and the runtime role the web process and the
-- workers connect as (DATABASE_URL), which may read and write rows but never change the schema.
-- Run once as a superuser, with psql's variables set:
--   psql -v owner_password=... -v app_password=... -f deploy/postgres/roles.sql
CREATE ROLE ereferral_owner LOGIN PASSWORD :'owner_password';
CREATE ROLE ereferral_app LOGIN PASSWORD :'app_password';
CREATE DATABASE ereferral OWNER ereferral_owner;
\connect ereferral
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO ereferral_app;
-- Every table and sequence the owner's migrations create from now on:
ALTER DEFAULT PRIVILEGES FOR ROLE ereferral_owner IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ereferral_app;
ALTER DEFAULT PRIVILEGES FOR ROLE ereferral_owner IN SCHEMA public
    GRANT USAGE, SELECT ON SEQUENCES TO ereferral_app;
