"""The throwaway PostgreSQL script that scripts/test.sh and the database fixtures rely on."""

from __future__ import annotations

import glob
import os
import subprocess
from pathlib import Path

import asyncpg
import pytest

POSTGRES_SH = Path(__file__).resolve().parents[1] / "scripts" / "postgres.sh"

needs_postgres = pytest.mark.skipif(
    not glob.glob("/usr/lib/postgresql/*/bin/initdb") and not os.environ.get("CI"),
    reason="PostgreSQL is not installed (scripts/test.sh installs it)",
)


def postgres_sh(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(POSTGRES_SH), *args], capture_output=True, text=True, timeout=90
    )


def parse_exports(stdout: str) -> dict[str, str]:
    exports = {}
    for line in stdout.splitlines():
        assert line.startswith("export "), f"not shell-evaluable: {line!r}"
        name, _, value = line.removeprefix("export ").partition("=")
        exports[name] = value
    return exports


@needs_postgres
async def test_start_gives_a_working_database_and_stop_removes_it() -> None:
    started = postgres_sh("start")
    assert started.returncode == 0, started.stderr
    exports = parse_exports(started.stdout)
    datadir = Path(exports["WALKAI_TEST_POSTGRES_DIR"])
    try:
        connection = await asyncpg.connect(exports["WALKAI_TEST_POSTGRES_URL"], timeout=30)
        try:
            assert await connection.fetchval("select current_database()") == "walkai_test"
            # Fixtures may create a database per test session or worker.
            assert await connection.fetchval(
                "select rolcreatedb from pg_roles where rolname = current_user"
            )
        finally:
            await connection.close()
    finally:
        stopped = postgres_sh("stop", str(datadir))
    assert stopped.returncode == 0, stopped.stderr
    assert not datadir.exists()
    with pytest.raises(OSError):
        await asyncpg.connect(exports["WALKAI_TEST_POSTGRES_URL"], timeout=5)


def test_stop_refuses_a_directory_it_did_not_create(tmp_path: Path) -> None:
    precious = tmp_path / "precious.txt"
    precious.write_text("keep me")

    result = postgres_sh("stop", str(tmp_path))

    assert result.returncode != 0
    assert "not a throwaway PostgreSQL directory" in result.stderr
    assert precious.read_text() == "keep me"
