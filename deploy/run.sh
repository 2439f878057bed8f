#!/usr/bin/env bash
# README command one: runs the whole of Amtsweg on this machine, no Docker needed.
#   deploy/run.sh            build, start a private PostgreSQL in deploy/.data, migrate, seed a demo,
#                            start the services and the postbox sandbox; Ctrl-C stops everything
#   deploy/run.sh --reset    the same, from empty data
# E-mail goes to a file spool (deploy/.data/mail/*.eml) instead of a mail server.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
source deploy/prerequisites.sh

data="$root/deploy/.data"
if [ "${1:-}" = "--reset" ]; then
    echo "removing $data" >&2
    rm -rf "$data"
elif [ -n "${1:-}" ]; then
    echo "usage: deploy/run.sh [--reset]" >&2
    exit 2
fi

amtsweg_require_swift
amtsweg_install_apt_packages
deploy/build.sh "$data/bin"
export PATH="$data/bin:$PATH"

# --- PostgreSQL, private to this checkout --------------------------------------------------
pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
pg_dir="$data/postgres"
pg_port=55432
as_pg=()
if [ "$(id -u)" -eq 0 ]; then
    as_pg=(runuser -u postgres --)
fi
mkdir -p "$pg_dir" "$data/logs" "$data/mail"
if [ "$(id -u)" -eq 0 ]; then
    chown postgres "$pg_dir"
    if ! runuser -u postgres -- test -w "$pg_dir"; then
        echo "error: the postgres user cannot reach $pg_dir (a parent folder is private); clone Amtsweg somewhere readable, e.g. /opt or /srv" >&2
        exit 1
    fi
fi
if [ ! -f "$pg_dir/data/PG_VERSION" ]; then
    "${as_pg[@]}" "$pg_bin/initdb" -D "$pg_dir/data" -A trust -U amtsweg -E UTF8 --locale=C >"$data/logs/initdb.log"
    cat >>"$pg_dir/data/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$pg_dir'
port = $pg_port
max_connections = 200
CONF
fi
# The server writes its log as the postgres user, so the log lives in its own folder.
"${as_pg[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/postgres.log" -w start >/dev/null
"${as_pg[@]}" "$pg_bin/createdb" -h "$pg_dir" -p "$pg_port" -U amtsweg amtsweg 2>/dev/null || true
# Two roles (README, "Database roles"): amtsweg owns the schema and is used by migrations and the
# CLI; the services connect as amtsweg_service, which owns nothing.
psql_owner=("${as_pg[@]}" "$pg_bin/psql" -h "$pg_dir" -p "$pg_port" -U amtsweg -d amtsweg -v ON_ERROR_STOP=1 -qtA)
if [ "$("${psql_owner[@]}" -c "SELECT count(*) FROM pg_roles WHERE rolname = 'amtsweg_service'")" = 0 ]; then
    "${psql_owner[@]}" -c "CREATE ROLE amtsweg_service LOGIN"
fi
export MIGRATION_DATABASE_URL="postgresql://amtsweg@/amtsweg?host=$pg_dir&port=$pg_port"
export DATABASE_URL="postgresql://amtsweg_service@/amtsweg?host=$pg_dir&port=$pg_port"

pids=()
stop_all() {
    trap - INT TERM EXIT
    trap '' PIPE  # a terminal or pipe that went away must not cut the clean-up short
    echo >&2 || true
    echo "stopping…" >&2 || true
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -m fast -w stop >/dev/null || true
    echo "stopped; data kept in $data (deploy/run.sh --reset starts over)" >&2 || true
    exit 0
}
trap stop_all INT TERM EXIT

amtsweg migrate >&2
if [ ! -f "$data/demo-credentials.env" ]; then
    deploy/seed-demo.sh >"$data/demo-credentials.env.tmp"
    mv "$data/demo-credentials.env.tmp" "$data/demo-credentials.env"
fi
# shellcheck disable=SC1091
source "$data/demo-credentials.env"

# --- the services -------------------------------------------------------------------------
start() {  # name port [VAR=value ...]
    local name=$1 port=$2
    shift 2
    if [ ! -x "$data/bin/$name" ]; then
        echo "note: $name is not part of this build; not started" >&2
        return
    fi
    env HTTP_HOST=127.0.0.1 HTTP_PORT="$port" "$@" "$data/bin/$name" >>"$data/logs/$name.log" 2>&1 &
    pids+=($!)
}
start servicekonto-sandbox 8090
# The services connect as amtsweg_service and never see the owner's URL.
unset MIGRATION_DATABASE_URL
start intake 8081
start inbox 8082
start routing 8083
start notification 8084 SMTP_URL="file://$data/mail" PUBLIC_INBOX_URL="http://127.0.0.1:8082"
start servicekonto-bridge 8085 SERVICEKONTO_URL="http://127.0.0.1:8090" \
    SERVICEKONTO_TOKEN_URL="http://127.0.0.1:8090/oauth/token" SERVICEKONTO_CLIENT_ID=amtsweg SERVICEKONTO_CLIENT_SECRET=sandbox

for port in 8081 8082 8083 8084 8085; do
    for _ in $(seq 1 50); do
        curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
        sleep 0.1
    done
done

cat <<TEXT

Amtsweg is running (logs: $data/logs, e-mails: $data/mail). Ctrl-C stops everything.

  intake   http://127.0.0.1:8081   (OpenAPI: /openapi.yaml)
  inbox    http://127.0.0.1:8082   (OpenAPI: /openapi.yaml)
  routing, notification, servicekonto-bridge: health and metrics on 8083, 8084, 8085
  postbox sandbox  http://127.0.0.1:8090/sandbox/mailboxes/{id}

Demo secrets (also in $data/demo-credentials.env):
  intake key Erkelenz     $ERKELENZ_INTAKE_KEY
  caseworker Anna Schmitz $ANNA_TOKEN
  admin Clara (Erkelenz)  $CLARA_ADMIN_TOKEN

Post an application (Anwohnerparkausweis, Erkelenz-Innenstadt, postal code 41812):

curl -sS -X POST http://127.0.0.1:8081/v1/applications \\
  -H 'Authorization: Bearer $ERKELENZ_INTAKE_KEY' -H 'Content-Type: application/json' \\
  -d '{"service":"anwohnerparkausweis","applicant":{"name":"Erika Mustermann","email":"erika@example.org","address":{"postal_code":"41812","municipality_key":"05370012"},"postbox":{"mailbox_id":"5c0d3a0e-6a43-4f0e-9d4a-2b7f1f1b6c11","trust_level":"substantial","document_consent":true}},"form":{"kennzeichen":"HS-AB 123"}}'

Then see it in Anna's inbox:

curl -sS http://127.0.0.1:8082/v1/inbox -H 'Authorization: Bearer $ANNA_TOKEN'

TEXT
wait -n "${pids[@]}" 2>/dev/null || true
echo "a service exited; see $data/logs" >&2
