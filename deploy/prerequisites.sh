# Installs what a fresh Debian machine lacks to build and test Amtsweg. Sourced by the deploy
# scripts; idempotent and quiet when everything is there already.

# Debian packages the build and the tests need.
AMTSWEG_APT_PACKAGES=(
    postgresql          # the server the tests start privately (initdb, pg_ctl)
    libpq-dev           # libpq headers for the CLibPQ system library
    libcurl4-openssl-dev  # libcurl for SMTP and HTTPS (notification, servicekonto-bridge)
    curl                # HTTP client tests
    openssl             # test certificates
    python3 python3-venv  # test fixtures (SMTP server, metrics parser, OpenAPI checks)
    docker-compose      # validates docker-compose.yml (deploy/lint.sh); no Docker engine needed
)

amtsweg_install_apt_packages() {
    local missing=()
    for package in "${AMTSWEG_APT_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "installing Debian packages: ${missing[*]}" >&2
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# A Python virtual environment with the test fixtures' packages, put first on PATH.
amtsweg_python_env() {
    local root=$1 venv="$1/.build/python-venv" requirements="$1/deploy/requirements-test.txt"
    if [ ! -x "$venv/bin/python3" ]; then
        python3 -m venv "$venv"
    fi
    local stamp="$venv/.requirements.sha256"
    local want
    want=$(sha256sum "$requirements" | cut -d' ' -f1)
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
        "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
        echo "$want" > "$stamp"
    fi
    export PATH="$venv/bin:$PATH"
}

amtsweg_require_swift() {
    if ! command -v swift >/dev/null 2>&1; then
        echo "error: the Swift 6 toolchain is not on PATH (install it from swift.org; see README.md)" >&2
        exit 1
    fi
}
