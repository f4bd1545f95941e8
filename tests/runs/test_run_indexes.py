"""The `run` table keeps its indexes on every backend (SQLite once lost them in a migration, and
every page of Jobs then scanned all runs): run numbers are unique per Job, and a page's runs
are read through the (job, number) index."""

from __future__ import annotations

import uuid

import pytest
from tortoise import Tortoise
from tortoise.exceptions import IntegrityError

from app.db.models import Run
from app.domain.status import RunStatus
from tests.api.operations import CREATE_JOB, job_input
from tests.support.api import Api
from tests.support.graphql import node_uuid

WANTED = {("job_id", "number"), ("status",), ("submitted_at",), ("cleaned_at",)}


async def run_indexes(backend: str) -> set[tuple[str, ...]]:
    db = Tortoise.get_connection("default")
    if backend == "sqlite":
        found = set()
        for index in await db.execute_query_dict("PRAGMA index_list('run')"):
            columns = await db.execute_query_dict(f"PRAGMA index_info('{index['name']}')")
            found.add(tuple(c["name"] for c in columns))
        return found
    rows = await db.execute_query_dict(
        "SELECT a.attname AS col, i.indexrelid AS idx, array_position(i.indkey, a.attnum) AS pos"
        " FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid"
        " AND a.attnum = ANY(i.indkey) WHERE i.indrelid = 'run'::regclass"
    )
    by_index: dict[int, list[tuple[int, str]]] = {}
    for row in rows:
        by_index.setdefault(row["idx"], []).append((row["pos"], row["col"]))
    return {tuple(col for _, col in sorted(cols)) for cols in by_index.values()}


async def test_run_numbers_are_unique_per_job_and_indexed(api: Api) -> None:
    assert await run_indexes(api.backend) >= WANTED
    created = (await api.gql(CREATE_JOB, {"input": job_input(command=["true"])}))["createJob"]
    first = await Run.get(id=node_uuid(created["run"]["id"]))
    twin = Run(
        job_id=first.job_id,  # type: ignore[attr-defined]
        number=first.number,
        status=RunStatus.SUBMITTED,
        kube_name=f"walkai-{uuid.uuid4()}",
    )
    with pytest.raises(IntegrityError):
        await twin.save()
    if api.backend == "sqlite":
        plan = await Tortoise.get_connection("default").execute_query_dict(
            "EXPLAIN QUERY PLAN SELECT * FROM run WHERE job_id IN (?, ?) ORDER BY number DESC",
            [str(first.job_id), str(uuid.uuid4())],  # type: ignore[attr-defined]
        )
        assert any("USING INDEX" in str(step["detail"]) for step in plan), plan
