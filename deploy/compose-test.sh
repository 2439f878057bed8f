#!/usr/bin/env bash
# Runs docker-compose.yml for real and checks it: builds the image from deploy/Dockerfile, brings up
# PostgreSQL, the migration, the five services and the demo profile (SMTP catcher, postbox sandbox,
# seed), and checks that
#   - every service becomes healthy and its /readyz answers 200,
#   - applications posted through intake reach Anna's inbox, her e-mail reaches the catcher and the
#     applicant's postbox gets RECEIVED (servicekonto-sandbox),
#   - routing and notification SIGKILLed while applications arrive, then restarted, lose nothing,
#   - the services connect as the role that owns nothing (amtsweg_service),
#   - without the demo settings compose refuses to start with SMTP_URL or SERVICEKONTO_URL unset,
#   - `compose down` leaves no container, network or volume of the run behind.
#
#   deploy/compose-test.sh            the whole test (about 6–8 minutes the first time, most of it
#                                     building images; far less once the images are cached)
#   deploy/compose-test.sh --keep     leaves the stack running afterwards, for a look (port 18081…)
#
# With a Docker engine it uses `docker compose` (or docker-compose) and the official images. Without
# one (Debian's podman 4.3 as root, as on the project's machines) it installs podman and Debian's
# docker-compose 1.29, sets the host up (/etc/containers/containers.conf.d), serves the Docker API
# with `podman system service`, and builds what a registry would give locally: debian:bookworm-slim
# from debootstrap, swift:6.3-bookworm from that plus the host's Swift toolchain, and a PostgreSQL
# image from Debian's packages (deploy/images/). Those stay in podman's image store between runs;
# AMTSWEG_COMPOSE_TEST_REBUILD=1 builds them again.
#
# Bounded: the whole run is stopped after AMTSWEG_COMPOSE_TEST_TIMEOUT seconds (default 1800), and
# whatever it started is removed on every exit.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

budget=${AMTSWEG_COMPOSE_TEST_TIMEOUT:-1800}
if [ -z "${AMTSWEG_COMPOSE_TEST_BOUNDED:-}" ]; then
    export AMTSWEG_COMPOSE_TEST_BOUNDED=1
    exec timeout --signal=TERM --kill-after=60 "$budget" "$0" "$@"
fi

keep=0
case "${1:-}" in
    --keep) keep=1 ;;
    "") ;;
    *) echo "usage: deploy/compose-test.sh [--keep]" >&2; exit 2 ;;
esac

source deploy/prerequisites.sh
started=$(date +%s)
# The settings come from deploy/demo.env alone: variables of the caller's shell would override it.
unset $(sed -n 's/^\([A-Z_][A-Z0-9_]*\)=.*/\1/p' .env.example deploy/demo.env | sort -u)
say() { printf '[compose-test %4ds] %s\n' "$(($(date +%s) - started))" "$*" >&2; }
fail() { say "FAILED: $*"; exit 1; }

project=amtsweg-compose-test
work=$(mktemp -d /tmp/amtsweg-compose-test.XXXXXX)
# Published on loopback only, and on ports of their own so a test run beside deploy/run.sh or the
# end-to-end tests does not collide with them.
intake_port=18081 inbox_port=18082 sandbox_port=18090 mail_port=18025

demo=() podman_service_pid="" healthcheck_pid=""
cleanup() {
    local status=$?
    trap - EXIT INT TERM
    if [ ${#demo[@]} -eq 0 ]; then
        :  # nothing started yet
    elif [ "$keep" = 1 ] && [ "$status" = 0 ]; then
        say "left running (project $project): ${demo[*]} down --volumes  stops it"
    else
        if [ "$status" != 0 ]; then
            "${demo[@]}" ps >&2 2>/dev/null || true
            "${demo[@]}" logs --no-color --tail=40 >"$work/compose.log" 2>&1 || true
            tail -n 200 "$work/compose.log" >&2 || true
        fi
        "${demo[@]}" down --volumes --remove-orphans --timeout 10 >/dev/null 2>&1 || true
    fi
    [ -n "$healthcheck_pid" ] && kill "$healthcheck_pid" 2>/dev/null
    if [ -n "$podman_service_pid" ] && [ "$keep" != 1 ]; then
        kill "$podman_service_pid" 2>/dev/null; wait "$podman_service_pid" 2>/dev/null
    fi
    rm -rf "$work"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 143' TERM INT

# --- engine -------------------------------------------------------------------------------
engine=podman
if command -v docker >/dev/null 2>&1 && [ -z "${DOCKER_HOST:-}" ] && docker info >/dev/null 2>&1; then
    engine=docker
fi

setup_podman() {
    AMTSWEG_APT_PACKAGES=(
        podman runc       # the engine; crun refuses the hybrid cgroup layout these machines have
        docker-compose    # compose 1.29, speaking the Docker API that `podman system service` serves
        debootstrap       # builds debian:bookworm-slim locally
        dnsmasq-base golang-github-containernetworking-plugin-dnsname  # container names in DNS
        curl
    )
    amtsweg_install_apt_packages
    # podman's default ulimits are higher than these machines' hard limits ("setrlimit … Operation
    # not permitted"); HEALTHCHECK survives only in Docker-format images.
    local nofile nproc
    nofile=$(ulimit -Hn); [ "$nofile" = unlimited ] && nofile=1048576
    nproc=$(ulimit -Hu); [ "$nproc" = unlimited ] || [ "$nproc" -gt 32768 ] && nproc=32768
    mkdir -p /etc/containers/containers.conf.d
    local conf=/etc/containers/containers.conf.d/50-amtsweg-compose-test.conf
    local want
    want=$(cat <<CONF
# Written by Amtsweg's deploy/compose-test.sh: podman on a host without systemd, with a hybrid
# cgroup layout and lower hard limits than podman's defaults.
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]

[engine]
runtime = "runc"
image_default_format = "docker"
CONF
)
    if [ ! -f "$conf" ] || [ "$(cat "$conf")" != "$want" ]; then
        printf '%s\n' "$want" > "$conf"
        say "wrote $conf"
    fi

    local socket=/run/podman/podman.sock
    if ! curl -fsS --max-time 5 --unix-socket "$socket" http://d/_ping >/dev/null 2>&1; then
        mkdir -p /run/podman
        BUILDAH_FORMAT=docker podman system service --time=0 "unix://$socket" >"$work/podman-service.log" 2>&1 &
        podman_service_pid=$!
        for _ in $(seq 1 100); do
            curl -fsS --max-time 2 --unix-socket "$socket" http://d/_ping >/dev/null 2>&1 && break
            sleep 0.1
        done
        curl -fsS --max-time 5 --unix-socket "$socket" http://d/_ping >/dev/null || fail "podman system service did not answer on $socket"
        say "podman system service started (pid $podman_service_pid)"
    fi
    export DOCKER_HOST="unix://$socket"
}

# A local image is rebuilt only when what it is made from changed (a hash kept in a label).
image_current() {  # image hash
    [ "${AMTSWEG_COMPOSE_TEST_REBUILD:-0}" != 1 ] \
        && [ "$(podman image inspect --format '{{ index .Labels "amtsweg.source" }}' "$1" 2>/dev/null)" = "$2" ]
}

build_base_images() {
    local debian=docker.io/library/debian:bookworm-slim
    local mirror=${AMTSWEG_DEBIAN_MIRROR:-http://deb.debian.org/debian}
    local hash
    hash=$(printf 'debootstrap minbase bookworm %s\n' "$mirror" | sha256sum | cut -c1-16)
    if ! image_current "$debian" "$hash"; then
        say "building $debian with debootstrap (a few minutes, mostly downloads)"
        local rootfs="$work/rootfs"
        debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
            || { tail -20 "$work/debootstrap.log" >&2; fail "debootstrap"; }
        cat >"$rootfs/etc/apt/sources.list" <<SOURCES
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb ${mirror%/debian}/debian-security bookworm-security main
SOURCES
        rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/archives/*.deb
        tar -C "$rootfs" -c . | podman import --change 'CMD ["bash"]' --change "LABEL amtsweg.source=$hash" - "$debian" >/dev/null 2>&1
        rm -rf "$rootfs"
    fi

    # The Swift build image the Dockerfile names, from the toolchain on this machine.
    local swift_image toolchain
    swift_image=$(sed -n 's/^FROM \(swift:[^ ]*\).*/\1/p' deploy/Dockerfile | head -1)
    amtsweg_require_swift
    toolchain=$(dirname "$(dirname "$(readlink -f "$(command -v swift)")")")
    local wanted_version have_version
    wanted_version=$(sed 's/^swift:\([0-9]*\.[0-9]*\).*/\1/' <<<"$swift_image")
    have_version=$(swift --version 2>&1 | sed -n 's/.*Swift version \([0-9]*\.[0-9]*\).*/\1/p' | head -1)
    [ "$wanted_version" = "$have_version" ] || fail "deploy/Dockerfile builds with $swift_image but this machine's toolchain is Swift $have_version"
    hash=$( (podman image inspect --format '{{.Id}}' "$debian"; swift --version 2>&1; cat deploy/images/swift-build/Containerfile) | sha256sum | cut -c1-16)
    if ! image_current "docker.io/library/$swift_image" "$hash"; then
        say "building $swift_image from debian:bookworm-slim and the toolchain in $toolchain"
        podman build --format docker --label "amtsweg.source=$hash" -v "$toolchain/..:/toolchain:ro" \
            -t "docker.io/library/$swift_image" deploy/images/swift-build >"$work/swift-image.log" 2>&1 \
            || { tail -20 "$work/swift-image.log" >&2; fail "building $swift_image"; }
    fi

    hash=$( (podman image inspect --format '{{.Id}}' "$debian"; cat deploy/images/postgres/*) | sha256sum | cut -c1-16)
    if ! image_current localhost/amtsweg-postgres:15-bookworm "$hash"; then
        say "building localhost/amtsweg-postgres:15-bookworm from Debian's PostgreSQL"
        podman build --format docker --label "amtsweg.source=$hash" -t localhost/amtsweg-postgres:15-bookworm \
            deploy/images/postgres >"$work/postgres-image.log" 2>&1 \
            || { tail -20 "$work/postgres-image.log" >&2; fail "building the PostgreSQL image"; }
    fi
    export POSTGRES_IMAGE=localhost/amtsweg-postgres:15-bookworm
}

# Without systemd nothing runs podman's health checks; this does, every 2 s, while the test runs.
start_healthchecks() {
    (
        while true; do
            for id in $(podman ps -q --filter "label=com.docker.compose.project=$project" 2>/dev/null); do
                podman healthcheck run "$id" >/dev/null 2>&1 || true
            done
            sleep 2
        done
    ) &
    healthcheck_pid=$!
}

if [ "$engine" = podman ]; then
    setup_podman
    build_base_images
    compose=(docker-compose)
else
    if docker compose version >/dev/null 2>&1; then compose=(docker compose); else compose=(docker-compose); fi
fi
say "engine: $engine ($("${compose[@]}" version --short 2>/dev/null || true))"

# --- secrets and settings -----------------------------------------------------------------
deploy/compose-secrets.sh "$work/secrets" >&2
export AMTSWEG_SECRETS_DIR="$work/secrets"
export INTAKE_PORT="127.0.0.1:$intake_port" INBOX_PORT="127.0.0.1:$inbox_port"
export SANDBOX_PORT="127.0.0.1:$sandbox_port" MAILCATCHER_PORT="127.0.0.1:$mail_port"
export COMPOSE_PROJECT_NAME=$project
# The demo's settings, as README's demo command uses them; no .env of an operator is read.
demo=("${compose[@]}" --project-directory "$root" -f docker-compose.yml)
# An extra compose file on top (an operator's override, say) is tried along with the rest.
[ -n "${AMTSWEG_COMPOSE_TEST_OVERRIDE:-}" ] && demo+=(-f "$AMTSWEG_COMPOSE_TEST_OVERRIDE")
demo+=(--env-file deploy/demo.env)


# --- the operator's mistakes compose must refuse -----------------------------------------
for variable in SMTP_URL SERVICEKONTO_URL; do
    grep -v "^$variable=" .env.example >"$work/incomplete.env"
    if output=$("${compose[@]}" --project-directory "$root" -f docker-compose.yml --env-file "$work/incomplete.env" config 2>&1 >/dev/null); then
        fail "compose accepted a configuration without $variable"
    fi
    grep -q "$variable" <<<"$output" || fail "compose refused a configuration without $variable without naming it: $output"
done
say "compose refuses to run without SMTP_URL or SERVICEKONTO_URL (outside the demo)"

# --- build and start ------------------------------------------------------------------------
say "building the images (deploy/Dockerfile, the SMTP catcher)"
"${demo[@]}" build >"$work/build.log" 2>&1 || { tail -40 "$work/build.log" >&2; fail "compose build"; }
if [ "$engine" = podman ]; then
    # Each change of the sources leaves the previous build stage (5 GB) behind, untagged. Untagged
    # images this build made or used (their ids are in its log) stay as the next run's cache, and
    # so do those others still build on (podman refuses to remove them).
    # (A step it ran prints 11 characters of the id, one it took from the cache all 64.)
    used=$(grep -oE '[0-9a-f]{11,64}' "$work/build.log" | cut -c1-11 | sort -u || true)
    for id in $(podman images -q --filter dangling=true); do
        grep -qx "${id:0:11}" <<<"$used" || podman rmi "$id" >/dev/null 2>&1 || true
    done
fi
say "images built"
[ "$engine" = podman ] && start_healthchecks
"${demo[@]}" up -d >"$work/up.log" 2>&1 || { cat "$work/up.log" >&2; fail "compose up"; }

services=(intake inbox routing notification servicekonto-bridge)
wait_healthy() {  # seconds service...
    local deadline=$(($(date +%s) + $1)) service id state
    shift
    for service in "$@"; do
        while true; do
            id=$("${demo[@]}" ps -q "$service" 2>/dev/null || true)
            state=$([ -n "$id" ] && "$engine" inspect --format '{{.State.Health.Status}}' "$id" 2>/dev/null || echo missing)
            [ "$state" = healthy ] && break
            [ "$(date +%s)" -lt "$deadline" ] || fail "$service is $state, not healthy"
            sleep 1
        done
    done
}
wait_healthy 180 postgres "${services[@]}" servicekonto-sandbox mailcatcher
say "healthy: postgres ${services[*]} servicekonto-sandbox mailcatcher"

# The seed ran once and printed the demo's keys.
deadline=$(($(date +%s) + 120))
until "${demo[@]}" logs --no-color seed 2>/dev/null | grep -q "ANNA_TOKEN="; do
    [ "$(date +%s)" -lt "$deadline" ] || { "${demo[@]}" logs --no-color seed >&2; fail "the seed printed no demo keys"; }
    sleep 1
done
seed_value() { "${demo[@]}" logs --no-color seed 2>/dev/null | sed -n "s/.*$1=\([^[:space:]]*\).*/\1/p" | tail -1; }
intake_key=$(seed_value ERKELENZ_INTAKE_KEY)
anna=$(seed_value ANNA_TOKEN)
[ -n "$intake_key" ] && [ -n "$anna" ] || fail "no demo keys in the seed's output"

# /readyz of every service, through the container (routing, notification and the bridge publish
# no port).
for service in "${services[@]}"; do
    port=$(sed -n "/^  $service:/,/^  [a-z]/s/.*HTTP_PORT: \"\([0-9]*\)\".*/\1/p" docker-compose.yml | head -1)
    body=$("${demo[@]}" exec -T "$service" curl -fsS "http://127.0.0.1:$port/readyz") || fail "$service /readyz"
    say "$service /readyz: $(tr -d '\n' <<<"$body" | cut -c1-200)"
done
curl -fsS --max-time 5 "http://127.0.0.1:$intake_port/readyz" >/dev/null || fail "intake is not reachable on 127.0.0.1:$intake_port"
curl -fsS --max-time 5 "http://127.0.0.1:$inbox_port/readyz" >/dev/null || fail "inbox is not reachable on 127.0.0.1:$inbox_port"

# --- applications, with routing and notification killed in the middle --------------------------
post_application() {  # mailbox → "id reference"
    curl -fsS --max-time 10 -X POST "http://127.0.0.1:$intake_port/v1/applications" \
        -H "Authorization: Bearer $intake_key" -H 'Content-Type: application/json' \
        -d '{"service":"anwohnerparkausweis","applicant":{"name":"Erika Mustermann","email":"erika@example.org","address":{"postal_code":"41812","municipality_key":"05370012"},"postbox":{"mailbox_id":"'"$1"'","trust_level":"substantial","document_consent":true}},"form":{"kennzeichen":"HS-AB 123"}}' \
        | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["id"], d["reference"])'
}
count=${AMTSWEG_COMPOSE_TEST_APPLICATIONS:-20}
: >"$work/posted"
for i in $(seq 1 "$count"); do
    mailbox=$(python3 -c 'import uuid; print(uuid.uuid4())')
    posted=$(post_application "$mailbox") || fail "posting application $i"
    echo "$mailbox $posted" >>"$work/posted"
    if [ "$i" = $((count / 2)) ]; then
        "${demo[@]}" kill -s SIGKILL routing notification >/dev/null 2>&1 || fail "killing routing and notification"
        say "posted $i applications; routing and notification SIGKILLed"
    fi
done
say "posted $count applications"
# Restarted as an operator would (a restart policy would too; a killed container's is not relied
# on), once podman has seen both exit: `up` on a container podman is still cleaning up can fail.
deadline=$(($(date +%s) + 30))
for service in routing notification; do
    until [ "$("$engine" inspect --format '{{.State.Running}}' "$("${demo[@]}" ps -q "$service")" 2>/dev/null)" = false ]; do
        [ "$(date +%s)" -lt "$deadline" ] || fail "$service still runs after SIGKILL"
        sleep 1
    done
done
for attempt in 1 2 3; do
    "${demo[@]}" up -d routing notification >"$work/restart.log" 2>&1 && break
    [ "$attempt" = 3 ] && { cat "$work/restart.log" >&2; fail "restarting routing and notification"; }
    say "restarting routing and notification failed (attempt $attempt): $(tail -1 "$work/restart.log")"
    sleep 3
done
wait_healthy 120 routing notification
say "routing and notification restarted and healthy"

deadline=$(($(date +%s) + ${AMTSWEG_COMPOSE_TEST_DELIVERY_SECONDS:-120}))
while true; do
    inbox=$(curl -fsS --max-time 10 "http://127.0.0.1:$inbox_port/v1/inbox" -H "Authorization: Bearer $anna" || true)
    mails=$(curl -fsS --max-time 10 "http://127.0.0.1:$mail_port/messages" || true)
    missing=$(INBOX="$inbox" MAILS="$mails" SANDBOX="http://127.0.0.1:$sandbox_port" python3 - "$work/posted" <<'PY'
import json, os, sys, urllib.request
inbox = json.dumps(json.loads(os.environ["INBOX"] or "null"))
subjects = " ".join(m["subject"] for m in json.loads(os.environ["MAILS"] or "[]"))
missing = []
for line in open(sys.argv[1]):
    mailbox, app_id, reference = line.split()
    if app_id not in inbox:
        missing.append(f"{reference}: not in Anna's inbox")
    if reference not in subjects:
        missing.append(f"{reference}: no e-mail")
    try:
        with urllib.request.urlopen(f"{os.environ['SANDBOX']}/sandbox/mailboxes/{mailbox}", timeout=10) as r:
            box = json.load(r)
        statuses = [s.get("status", {}).get("status") for s in box.get("statuses", [])]
    except Exception as error:
        statuses = [str(error)]
    if "RECEIVED" not in statuses:
        missing.append(f"{reference}: postbox {statuses}")
print("\n".join(missing))
PY
)
    [ -z "$missing" ] && break
    [ "$(date +%s)" -lt "$deadline" ] || fail "after the restart, not everything arrived:
$missing"
    sleep 2
done
say "all $count applications in Anna's inbox, e-mailed to her, RECEIVED in their postboxes"

# The postbox going away shows on the bridge's /readyz as degraded, and /readyz stays 200.
"${demo[@]}" stop servicekonto-sandbox >/dev/null 2>&1 || fail "stopping the sandbox"
deadline=$(($(date +%s) + 60))
until body=$("${demo[@]}" exec -T servicekonto-bridge curl -fsS http://127.0.0.1:8085/readyz 2>/dev/null) \
        && grep -q '"postbox":"degraded' <<<"$body"; do
    [ "$(date +%s)" -lt "$deadline" ] || fail "the bridge's /readyz did not show the postbox degraded with 200: ${body:-no answer}"
    sleep 2
done
say "sandbox stopped; servicekonto-bridge /readyz (200): $body"

# The services' role exists and owns nothing; the services are connected as it, never as the owner.
role=$("${demo[@]}" exec -T postgres psql -U amtsweg -d amtsweg -At -c \
    "SELECT (SELECT count(*) FROM pg_roles WHERE rolname = 'amtsweg_service' AND rolcanlogin) || ' role, '
         || (SELECT count(*) FROM pg_class c JOIN pg_roles r ON c.relowner = r.oid WHERE r.rolname = 'amtsweg_service') || ' relations owned'")
[ "$(tr -d '\r\n' <<<"$role")" = "1 role, 0 relations owned" ] || fail "amtsweg_service: $role (want a login role that owns nothing)"
roles=$("${demo[@]}" exec -T postgres psql -U amtsweg -d amtsweg -At -c \
    "SELECT DISTINCT usename FROM pg_stat_activity WHERE datname = 'amtsweg' AND backend_type = 'client backend' AND pid <> pg_backend_pid()")
say "amtsweg_service owns nothing; database sessions by role: $(tr '\n' ' ' <<<"$roles")"
grep -qx amtsweg_service <<<"$roles" || fail "no service connected as amtsweg_service"
grep -qx amtsweg <<<"$roles" && fail "a service is connected as the schema owner amtsweg"

# --- down --------------------------------------------------------------------------------------
if [ "$keep" = 1 ]; then
    say "PASSED in $(($(date +%s) - started)) s (left running)"
    exit 0
fi
"${demo[@]}" down --volumes --remove-orphans --timeout 20 >"$work/down.log" 2>&1 || { cat "$work/down.log" >&2; fail "compose down"; }
label="label=com.docker.compose.project=$project"
left="$("$engine" ps -a -q --filter "$label")$("$engine" network ls -q --filter "$label")$("$engine" volume ls -q --filter "$label")"
[ -z "$left" ] || fail "compose down left containers, networks or volumes of $project: $left"
say "compose down left no container, network or volume behind"
say "PASSED in $(($(date +%s) - started)) s"
