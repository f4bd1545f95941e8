"""Two API replicas: one follows the pods (the logs Lease's holder), both serve subscribers.

The second replica is a whole app and platform under its own uvicorn, on the same database,
cluster and namespace (Tortoise is process-wide: it shares this process's connections).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from app.services.platform import Platform
from tests.logs.conftest import RUN_LOGS, all_pages, expected, lines_of, printing, start_run
from tests.support.api import Api
from tests.support.graphql import subscribe
from tests.support.servers import serve, until


@asynccontextmanager
async def replica(api: Api) -> AsyncIterator[tuple[str, Platform]]:
    """Another replica of the API; its websocket URL and platform."""
    async with serve(api.platform.settings, share_database=True) as served:
        yield served.ws_url, served.platform


async def texts_from(ws_url: str, api: Api, run_id: str, container: str | None = None) -> list[str]:
    variables = {"runId": run_id, "container": container}
    async with subscribe(ws_url, RUN_LOGS, variables, token=api.token) as sub:
        batches = await asyncio.wait_for(sub.collect(), 90)
    return [line["text"] for line in lines_of([b["runLogs"] for b in batches])]


async def test_the_replica_that_does_not_lead_serves_live_logs_without_following(
    api: Api,
) -> None:
    async with replica(api) as (ws_url, other):
        assert api.platform.logs.leading and not other.logs.leading
        run_id = await start_run(api, printing(200, sleep=0.01))
        here, there, main = await asyncio.gather(
            texts_from(api.ws_url, api, run_id),
            texts_from(ws_url, api, run_id),
            texts_from(ws_url, api, run_id, container="main"),
        )
        assert other.logs.followers == {}, "only the Lease's holder follows pods"
    assert here == there == main == expected(200)


async def test_when_the_leader_steps_down_the_other_follows_on_and_nobody_misses_a_line(
    api: Api,
) -> None:
    elector = api.platform.elector
    assert elector is not None
    try:
        async with replica(api) as (ws_url, other):
            run_id = await start_run(api, printing(300, sleep=0.02))
            here = asyncio.create_task(texts_from(api.ws_url, api, run_id))
            there = asyncio.create_task(texts_from(ws_url, api, run_id))
            await until(lambda: api.platform.logs.followers)  # lines are flowing
            await asyncio.sleep(1)
            await elector.stop()  # this replica stops (as on a rollout): the other takes over
            await until(lambda: other.logs.leading)
            assert not api.platform.logs.leading and api.platform.logs.followers == {}
            texts = await asyncio.gather(here, there)
    finally:
        elector.start()
        await until(lambda: api.platform.logs.leading)
    assert texts == [expected(300), expected(300)]
    pages = await all_pages(api, run_id, 1000)
    assert [line["text"] for line in pages] == expected(300)
    assert len({line["cursor"] for line in pages}) == 300  # each line stored once


async def test_a_client_of_the_other_replica_resumes_from_its_cursor_without_gaps(
    api: Api,
) -> None:
    async with replica(api) as (ws_url, other):
        run_id = await start_run(api, printing(150, sleep=0.02))
        seen: list[dict[str, Any]] = []
        async with subscribe(ws_url, RUN_LOGS, {"runId": run_id}, token=api.token) as sub:
            while len(seen) < 20:
                batch = await asyncio.wait_for(sub.next(), 60)
                assert batch is not None
                seen += batch["runLogs"]["lines"]
        # Away long enough for this replica to stop reading the run; lines go on meanwhile.
        await until(lambda: not other.logs._tailers)
        await asyncio.sleep(0.5)
        variables = {"runId": run_id, "after": seen[-1]["cursor"]}
        async with subscribe(ws_url, RUN_LOGS, variables, token=api.token) as sub:
            rest = lines_of([b["runLogs"] for b in await asyncio.wait_for(sub.collect(), 90)])
    assert [line["text"] for line in seen + rest] == expected(150)
