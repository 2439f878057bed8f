#!/bin/sh
# Initialises an empty $PGDATA the way the official postgres image does (superuser POSTGRES_USER
# with the password from POSTGRES_PASSWORD_FILE, database POSTGRES_DB, then the scripts in
# /docker-entrypoint-initdb.d against a server listening on the Unix socket only), then runs the
# server as the postgres user, listening on every interface of the container.
set -eu
if [ "$(id -u)" = 0 ]; then
    # The password file is read as root, as the official image does, so it may be root's and 0400.
    if [ -n "${POSTGRES_PASSWORD_FILE:-}" ]; then
        POSTGRES_PASSWORD=$(cat "$POSTGRES_PASSWORD_FILE")
        export POSTGRES_PASSWORD
        unset POSTGRES_PASSWORD_FILE
    fi
    mkdir -p "$PGDATA"
    chown postgres:postgres "$PGDATA"
    chmod 0700 "$PGDATA"
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

user=${POSTGRES_USER:-postgres}
database=${POSTGRES_DB:-$user}
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    password_file=$(mktemp)
    printf '%s\n' "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE is required}" > "$password_file"
    initdb --username="$user" --pwfile="$password_file" --auth-local=trust --auth-host=scram-sha-256 \
        --encoding=UTF8 --locale=C.UTF-8 -D "$PGDATA" >/dev/null
    rm -f "$password_file"
    echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
    pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
    if [ "$database" != postgres ]; then
        psql -v ON_ERROR_STOP=1 --username="$user" --dbname=postgres -q \
            -c "CREATE DATABASE \"$database\" OWNER \"$user\""
    fi
    for script in /docker-entrypoint-initdb.d/*; do
        case $script in
            *.sh) echo "running $script" >&2; POSTGRES_USER=$user POSTGRES_DB=$database sh "$script" ;;
            *.sql) echo "running $script" >&2; psql -v ON_ERROR_STOP=1 --username="$user" --dbname="$database" -q -f "$script" ;;
        esac
    done
    pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
    echo "database initialised" >&2
fi
unset POSTGRES_PASSWORD
if [ "${1:-}" = postgres ]; then
    shift
    exec postgres -D "$PGDATA" -c listen_addresses='*' "$@"
fi
exec "$@"
