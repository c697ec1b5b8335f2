#!/bin/sh
# Runs once, when the postgres image initialises an empty data volume.
#
# Two least-privilege roles: `temporal` owns Temporal's two databases, `holdfast` owns the
# app's. Neither is a superuser and neither can read the other's data. The databases are
# created here so the roles need no CREATEDB; the temporal-setup-schema and migrate services
# then fill them.
#
# The postgres image sources *.sh files that are not executable, so this script must not
# change shell options or call exit.

psql --no-psqlrc -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "${POSTGRES_DB:-$POSTGRES_USER}" \
  -v temporal_password="${TEMPORAL_DB_PASSWORD:?TEMPORAL_DB_PASSWORD is not set}" \
  -v holdfast_password="${HOLDFAST_DB_PASSWORD:?HOLDFAST_DB_PASSWORD is not set}" <<'SQL'
CREATE ROLE temporal LOGIN PASSWORD :'temporal_password';
CREATE DATABASE temporal OWNER temporal;
CREATE DATABASE temporal_visibility OWNER temporal;

CREATE ROLE holdfast LOGIN PASSWORD :'holdfast_password';
CREATE DATABASE holdfast OWNER holdfast;

-- Only each owner may connect to its databases.
REVOKE CONNECT ON DATABASE temporal, temporal_visibility, holdfast FROM PUBLIC;

-- Temporal's visibility schema needs btree_gin. It is a trusted extension, so the owner could
-- create it, but installing it here keeps the schema job independent of that.
\connect temporal_visibility
CREATE EXTENSION IF NOT EXISTS btree_gin;
SQL
