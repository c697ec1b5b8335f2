#!/bin/sh
# Brings Temporal's persistence and visibility schemas up to the version this admin-tools
# image ships. Runs before every start of the server and is safe to repeat: `setup-schema -v 0.0`
# only records a baseline on a database that has no schema yet, and `update-schema` applies
# only the versions that are missing. Upgrading the server = bumping both image tags together.
#
# The databases themselves are created by deploy/postgres (the `temporal` role has no
# CREATEDB). Against an external PostgreSQL, create `temporal` and `temporal_visibility` first.
set -eu

: "${POSTGRES_SEEDS:?}" "${POSTGRES_USER:?}" "${SQL_PASSWORD:?}"
DB_PORT="${DB_PORT:-5432}"
SCHEMA_DIR="${SCHEMA_DIR:-/etc/temporal/schema/postgresql/v12}"

sql_tool() {
  temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" --port "$DB_PORT" --user "$POSTGRES_USER" "$@"
}

attempt=0
until nc -z "$POSTGRES_SEEDS" "$DB_PORT"; do
  attempt=$((attempt + 1))
  if [ "$attempt" -ge 60 ]; then
    echo "PostgreSQL at $POSTGRES_SEEDS:$DB_PORT did not answer" >&2
    exit 1
  fi
  sleep 1
done

setup() {
  database=$1
  schema=$2
  echo "Temporal schema: $database ($schema)"
  sql_tool --db "$database" setup-schema -v 0.0
  sql_tool --db "$database" update-schema -d "$SCHEMA_DIR/$schema/versioned"
}

setup "${DBNAME:-temporal}" temporal
setup "${VISIBILITY_DBNAME:-temporal_visibility}" visibility
echo "Temporal schema is up to date"
