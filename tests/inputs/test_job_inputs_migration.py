"""Upgrading a database: Jobs created before `Job.inputs` existed get it from their links.

The migration runs in a process of its own (Tortoise's connections are global to a process, and
this one serves the API), on a fresh database of the suite's backend.
"""

from __future__ import annotations

import asyncio
import json
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import _postgres_database

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = textwrap.dedent(
    """
    import asyncio, json, sys
    from tortoise import Tortoise
    from tortoise.migrations.api import migrate
    from app.db.setup import tortoise_config

    USER, JOB, BARE = ("00000000-0000-4000-8000-00000000000" + c for c in "123")
    A, B = "00000000-0000-4000-8000-0000000000a1", "00000000-0000-4000-8000-0000000000b2"
    AT = "'2026-01-01 00:00:00+00:00'"

    async def main(url: str) -> None:
        config = tortoise_config(url)
        await migrate(config=config, target="models.0004_storage_inputs")
        await Tortoise.init(config=config)
        db = Tortoise.get_connection("default")
        await db.execute_script(
            f"INSERT INTO auth_user (id, email, name, role, is_active, created_at)"
            f" VALUES ('{USER}', 'old@example.com', 'Old', 'MEMBER', true, {AT});"
        )
        for job in (JOB, BARE):
            await db.execute_script(
                f"INSERT INTO job (id, name, image, gpu, storage_gi, command, args, env,"
                f" priority, created_at, run_count, owner_id, secrets) VALUES ('{job}', 'old',"
                f" 'img', '1g.10gb', 1, '[]', '[]', '[]', 'MEDIUM', {AT}, 1, '{USER}', '[]');"
            )
        # Named B first, then A: the order of the links, not of the ids or names.
        for position, (item, name) in enumerate(((B, "zeta"), (A, "alpha"))):
            await db.execute_script(
                f"INSERT INTO input (id, name, status, total_size, file_count, created_at,"
                f" owner_id) VALUES ('{item}', '{name}', 'READY', 1, 1, {AT}, '{USER}');"
            )
            await db.execute_script(
                f"INSERT INTO job_input (position, input_id, job_id)"
                f" VALUES ({position}, '{item}', '{JOB}');"
            )
        await Tortoise.close_connections()
        await migrate(config=config)
        await Tortoise.init(config=config)
        from app.db.models import Job
        found = {str(j.id): j.inputs for j in await Job.all()}
        await Tortoise.close_connections()
        print(json.dumps([found[JOB], found[BARE]]))

    try:
        asyncio.run(main(sys.argv[1]))
    except BaseException:
        import os, traceback
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(1)  # now: an open database thread would keep the process alive
    """
)


async def test_jobs_from_before_get_their_inputs_in_order(
    database: tuple[str, str], tmp_path: Path
) -> None:
    backend, url = database
    if backend == "sqlite":
        fresh = f"sqlite://{tmp_path / 'old.db'}"
    else:
        fresh, _ = await _postgres_database(url)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", SCENARIO, fresh, cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), timeout=90)
    if process.returncode != 0:
        pytest.fail(err.decode()[-3000:])
    with_inputs, bare = json.loads(out)
    assert with_inputs == [
        {"id": "00000000-0000-4000-8000-0000000000b2", "name": "zeta"},
        {"id": "00000000-0000-4000-8000-0000000000a1", "name": "alpha"},
    ]
    assert bare == []
