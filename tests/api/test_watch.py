"""One list+watch per kind, whatever the number of subscribers, surviving drops and 410 Gone."""

from __future__ import annotations

import asyncio
import json
from contextlib import AsyncExitStack
from typing import Any

import websockets

from tests.api.operations import CREATE_JOB, RUN_FIELDS, RUN_STATUS, job_input
from tests.support.api import Api
from tests.support.graphql import init_payload

RUNS_CHANGED = f"subscription {{ runsChanged {{ {RUN_FIELDS} }} }}"


async def create(api: Api, **overrides: object) -> dict[str, Any]:
    payload = (await api.gql(CREATE_JOB, {"input": job_input(**overrides)}))["createJob"]
    assert payload["userErrors"] == []
    run: dict[str, Any] = payload["run"]
    return run


async def wait_for_status(sub: Any, status: str) -> dict[str, Any]:
    while True:
        event = await asyncio.wait_for(sub.next(), timeout=60)
        assert event is not None, f"completed before {status}"
        run: dict[str, Any] = event["runStatus"]
        if run["status"] == status:
            return run


async def test_many_subscribers_share_one_watch_per_kind(api: Api) -> None:
    run = await create(api, command=["sh", "-c", "sleep 1"])
    # One watch per kind for this API (another platform of the session may watch too).
    before = api.cluster.stats.open_watches
    assert all(before.get(kind, 0) >= 1 for kind in ("jobs", "pods", "nodes")), before
    async with AsyncExitStack() as stack:
        subs = [
            await stack.enter_async_context(api.subscribe(RUN_STATUS, {"runId": run["id"]}))
            for _ in range(20)
        ]
        dashboard = await stack.enter_async_context(api.subscribe(RUNS_CHANGED))
        assert api.cluster.stats.open_watches == before, "subscribers opened watches"
        results = await asyncio.gather(*(asyncio.wait_for(s.collect(), 60) for s in subs))
        finals = {r[-1]["runStatus"]["status"] for r in results}
        assert finals == {"COMPLETED"}
        # Subscribers joined one after another: each saw a suffix of the same history.
        sequences = sorted(
            (tuple(e["runStatus"]["statusVersion"] for e in r) for r in results), key=len
        )
        longest = sequences[-1]
        assert all(longest[len(longest) - len(seq) :] == seq for seq in sequences)
        seen = await asyncio.wait_for(dashboard.next(), timeout=10)
        assert seen is not None and seen["runsChanged"]["id"]


async def test_runs_continue_across_dropped_watches_and_expired_history(api: Api) -> None:
    tracker = api.platform.tracker
    assert tracker is not None
    relists = tracker.jobs.relists + tracker.pods.relists
    restarts = tracker.jobs.watch_restarts + tracker.pods.watch_restarts
    watches = api.cluster.stats.open_watches
    run = await create(api, command=["sh", "-c", "sleep 1.5"])
    async with api.subscribe(RUN_STATUS, {"runId": run["id"]}) as sub:
        await wait_for_status(sub, "RUNNING")
        api.cluster.faults.compact()
        assert api.cluster.faults.drop_watches() >= 2
        final = await wait_for_status(sub, "COMPLETED")
    assert final["exitCode"] == 0
    # Both watches were cut; the one whose version fell behind the history got 410 and relisted.
    assert tracker.jobs.watch_restarts + tracker.pods.watch_restarts >= restarts + 2
    assert tracker.jobs.relists + tracker.pods.relists >= relists + 1
    for _ in range(100):
        if api.cluster.stats.open_watches == watches:
            break
        await asyncio.sleep(0.05)
    assert api.cluster.stats.open_watches == watches, "each cut watch was opened again, once"


async def test_legacy_graphql_ws_protocol_streams_status(api: Api) -> None:
    run = await create(api, command=["true"])
    async with websockets.connect(api.ws_url, subprotocols=["graphql-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init", "payload": init_payload(api.token)}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        await ws.send(
            json.dumps(
                {
                    "id": "1",
                    "type": "start",
                    "payload": {"query": RUN_STATUS, "variables": {"runId": run["id"]}},
                }
            )
        )
        statuses = []
        while True:
            message = json.loads(await asyncio.wait_for(ws.recv(), timeout=60))
            if message["type"] == "ka":
                continue
            if message["type"] == "complete":
                break
            assert message["type"] == "data", message
            statuses.append(message["payload"]["data"]["runStatus"]["status"])
    assert statuses[-1] == "COMPLETED"
