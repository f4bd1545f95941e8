#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests: fresh temp directory, loopback only, free port.
#
#   eval "$(scripts/postgres.sh start)"   # sets WALKAI_TEST_POSTGRES_URL and WALKAI_TEST_POSTGRES_DIR
#   scripts/postgres.sh stop "$WALKAI_TEST_POSTGRES_DIR"
#
# `start` prints only shell-evaluable `export` lines on stdout; progress goes to stderr.
# initdb refuses to run as root, so root runs the cluster as the `postgres` system user (or
# creates `walkai-pg`); everything lives under /tmp so that user never needs to read the
# repository, wherever the clone is.
set -euo pipefail

# shellcheck source=scripts/bootstrap.sh
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"

readonly MARKER=.walkai-throwaway-postgres
readonly DB_USER=walkai
readonly DB_NAME=walkai_test

usage() {
    echo "usage: $0 start | stop DATADIR | install" >&2
    exit 2
}

# The unprivileged account that owns the cluster; empty when we are not root.
cluster_user() {
    [[ ${EUID} -eq 0 ]] || return 0
    if id -u postgres >/dev/null 2>&1; then
        echo postgres
        return
    fi
    if ! id -u walkai-pg >/dev/null 2>&1; then
        useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin walkai-pg
    fi
    echo walkai-pg
}

# Runs a command as $1 (or as ourselves when $1 is empty), from a directory that user can read.
run_as() {
    local user="$1"
    shift
    if [[ -n ${user} ]]; then
        (cd / && runuser -u "${user}" -- "$@")
    else
        (cd / && "$@")
    fi
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start() {
    walkai_ensure_postgres
    local bindir user dir password port
    bindir="$(walkai_postgres_bindir)"
    user="$(cluster_user)"
    dir="$(mktemp -d /tmp/walkai-pg.XXXXXX)"
    touch "${dir}/${MARKER}"
    [[ -z ${user} ]] || chown "${user}" "${dir}"
    chmod 700 "${dir}"

    password="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
    (umask 077 && echo "${password}" >"${dir}/pwfile")
    [[ -z ${user} ]] || chown "${user}" "${dir}/pwfile"

    if ! run_as "${user}" "${bindir}/initdb" -D "${dir}/data" -U "${DB_USER}" \
        --pwfile="${dir}/pwfile" --auth-local=trust --auth-host=scram-sha-256 \
        --encoding=UTF8 --locale=C.UTF-8 --no-sync >"${dir}/initdb.log" 2>&1; then
        cat "${dir}/initdb.log" >&2
        rm -rf "${dir}"
        walkai_log "initdb failed"
        return 1
    fi
    rm -f "${dir}/pwfile"

    # Durability is pointless for a cluster that is deleted after the run, and costs time.
    local attempt started=0
    for attempt in 1 2 3; do
        port="$(free_port)"
        if run_as "${user}" "${bindir}/pg_ctl" -D "${dir}/data" -l "${dir}/postgres.log" -w -t 60 \
            -o "-c listen_addresses=127.0.0.1 -c port=${port} -c unix_socket_directories=${dir}" \
            -o "-c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
            -o "-c max_connections=300" \
            start >/dev/null; then
            started=1
            break
        fi
        walkai_log "PostgreSQL did not start on port ${port} (attempt ${attempt})"
    done
    if [[ ${started} -eq 0 ]]; then
        cat "${dir}/postgres.log" >&2 || true
        rm -rf "${dir}"
        return 1
    fi

    if ! run_as "${user}" "${bindir}/createdb" -h "${dir}" -p "${port}" -U "${DB_USER}" "${DB_NAME}"; then
        stop "${dir}"
        return 1
    fi
    walkai_log "PostgreSQL $("${bindir}/postgres" --version | awk '{print $3}') on 127.0.0.1:${port}, data in ${dir}"
    echo "export WALKAI_TEST_POSTGRES_URL=postgres://${DB_USER}:${password}@127.0.0.1:${port}/${DB_NAME}"
    echo "export WALKAI_TEST_POSTGRES_DIR=${dir}"
}

stop() {
    local dir="${1:-}"
    [[ -n ${dir} ]] || usage
    # Never delete a directory this script did not create.
    if [[ ! -f ${dir}/${MARKER} ]]; then
        walkai_log "${dir} is not a throwaway PostgreSQL directory; leaving it alone"
        return 1
    fi
    if [[ -f ${dir}/data/postmaster.pid ]]; then
        local bindir owner=""
        bindir="$(walkai_postgres_bindir)"
        [[ ${EUID} -ne 0 ]] || owner="$(stat -c %U "${dir}/data")"
        run_as "${owner}" "${bindir}/pg_ctl" -D "${dir}/data" -m immediate -w stop >/dev/null ||
            walkai_log "pg_ctl stop failed; removing ${dir} anyway"
    fi
    rm -rf "${dir}"
}

case "${1:-}" in
    start) start ;;
    stop) stop "${2:-}" ;;
    install) walkai_ensure_postgres ;;
    *) usage ;;
esac
