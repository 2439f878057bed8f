#!/bin/sh
# Run once by the PostgreSQL container on an empty data folder (/docker-entrypoint-initdb.d):
# creates the login role the services connect as. It owns nothing; `amtsweg migrate`, run as the
# owner, grants it what the services need (DATABASE_SERVICE_ROLE, default amtsweg_service).
# Its password is the secret service_database_password, read here as the postgres user (uid 999).
# For a database initialised before this script existed, README ("Upgrading") gives the same step.
set -eu
role=${DATABASE_SERVICE_ROLE:-amtsweg_service}
password_file=${SERVICE_DATABASE_PASSWORD_FILE:-/run/secrets/service_database_password}
[ -r "$password_file" ] || { echo "error: $password_file cannot be read by uid $(id -u) (give it owner 999, mode 0400)" >&2; exit 1; }
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" -q \
    -v role="$role" -v password="$(cat "$password_file")" <<'SQL'
CREATE ROLE :"role" LOGIN PASSWORD :'password';
SQL
echo "created the services' role $role" >&2
