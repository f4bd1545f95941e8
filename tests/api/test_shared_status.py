"""A run's change is executed once for every `runStatus` subscriber asking for the same fields
(app/graphql/execution.py): what each client receives must still be exactly its own answer."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import websockets

from tests.api.operations import CREATE_JOB, job_input
from tests.support.api import Api
from tests.support.graphql import init_payload

PLAIN = """
subscription($runId: ID!) {
  runStatus(runId: $runId) { id status statusVersion outputsStatus { status } }
}"""
# Another selection of the same events, with a field read from the database.
WITH_JOB = """
subscription($runId: ID!) {
  runStatus(runId: $runId) { status statusVersion job { name } outputsStatus { status message } }
}"""


async def messages(api: Api, query: str, op_id: str, run_id: str) -> list[dict[str, Any]]:
    """Every `next` payload of one subscription, in order, until it completes."""
    async with websockets.connect(api.ws_url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init", "payload": init_payload(api.token)}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        payload = {"query": query, "variables": {"runId": run_id}}
        await ws.send(json.dumps({"id": op_id, "type": "subscribe", "payload": payload}))
        received = []
        while True:
            message = json.loads(await asyncio.wait_for(ws.recv(), timeout=60))
            if message["type"] == "complete":
                return received
            assert message["type"] == "next" and message["id"] == op_id, message
            assert "errors" not in message["payload"], message
            received.append(message["payload"]["data"]["runStatus"])


async def test_subscribers_of_one_run_each_get_their_own_selection(api: Api) -> None:
    job = job_input(name="shared-status", command=["sh", "-c", "sleep 2; echo done"])
    run_id = (await api.gql(CREATE_JOB, {"input": job}))["createJob"]["run"]["id"]
    plain_a, plain_b, with_job = await asyncio.gather(
        messages(api, PLAIN, "a", run_id),
        messages(api, PLAIN, "b", run_id),
        messages(api, WITH_JOB, "c", run_id),
    )
    # Each began with the run as it stood when it subscribed (the run may have moved on
    # between the two), then got every change: from the later start on, the same messages.
    start = max(plain_a[0]["statusVersion"], plain_b[0]["statusVersion"])
    assert [m for m in plain_a if m["statusVersion"] >= start] == [
        m for m in plain_b if m["statusVersion"] >= start
    ]
    assert plain_a[-1]["status"] == "COMPLETED"
    assert plain_a[-1]["outputsStatus"]["status"] == "UPLOADED"
    assert all(set(m) == {"id", "status", "statusVersion", "outputsStatus"} for m in plain_a)
    # The other selection got its own fields on every change, never the plain one's shape.
    assert all(set(m) == {"status", "statusVersion", "job", "outputsStatus"} for m in with_job)
    assert all(m["job"] == {"name": "shared-status"} for m in with_job)
    assert with_job[-1]["outputsStatus"]["message"]
    # Both saw the changes they were sent in version order, ending the same way.
    for seen in (plain_a, with_job):
        versions = [m["statusVersion"] for m in seen]
        assert versions == sorted(set(versions))
    assert with_job[-1]["statusVersion"] == plain_a[-1]["statusVersion"]
