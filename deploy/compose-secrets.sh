#!/usr/bin/env bash
# Creates the secret files docker-compose.yml mounts, each with a new random password, and gives
# every file the owner and mode its reader needs. Files that exist keep their content (only their
# owner and mode are set), so running it again is harmless.
#   deploy/compose-secrets.sh [DIR]      (default: $AMTSWEG_SECRETS_DIR, else ./secrets)
#
# Compose mounts a secret file as it is on the host (no copy, no chown), so the owner and mode on
# the host are those inside the container:
#   file                        read by                                   owner:group  mode
#   postgres_password           PostgreSQL's entrypoint, as root          0:0          0400
#   service_database_password   PostgreSQL's init script, as postgres     999:999      0400
#   migration_database_url      migrate and seed (uid 10001)              10001:10001  0400
#   service_database_url        the five services (uid 10001)             10001:10001  0400
#   smtp_password               notification (uid 10001); empty: no AUTH  10001:10001  0400
#   servicekonto_client_secret  the bridge and the demo sandbox (10001)   10001:10001  0400
# 999 is the postgres user of the official image (and of deploy/images/postgres). Run as root;
# as another user (rootless engines map ids differently) the files are made 0444 instead.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-${AMTSWEG_SECRETS_DIR:-$root/secrets}}
mkdir -p "$dir"
chmod 0755 "$dir"

random() { od -An -tx1 -N24 /dev/urandom | tr -d ' \n'; }
create() {  # name content
    if [ ! -e "$dir/$1" ]; then
        (umask 077; printf '%s' "$2" >"$dir/$1")
        echo "created $dir/$1" >&2
    fi
}
create postgres_password "$(random)"
create service_database_password "$(random)"
create migration_database_url "postgresql://amtsweg:$(cat "$dir/postgres_password")@postgres:5432/amtsweg"
create service_database_url "postgresql://${DATABASE_SERVICE_ROLE:-amtsweg_service}:$(cat "$dir/service_database_password")@postgres:5432/amtsweg"
create smtp_password ""
create servicekonto_client_secret "$(random)"

own() {  # owner name
    if [ "$(id -u)" -eq 0 ]; then
        chown "$1" "$dir/$2"
        chmod 0400 "$dir/$2"
    else
        chmod 0444 "$dir/$2"
    fi
}
own 0:0 postgres_password
own 999:999 service_database_password
for name in migration_database_url service_database_url smtp_password servicekonto_client_secret; do
    own 10001:10001 "$name"
done
[ "$(id -u)" -eq 0 ] || echo "note: not root, so the secrets in $dir are readable by every user (0444)" >&2
echo "secrets in $dir: owners and modes set" >&2
