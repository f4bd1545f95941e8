"""The npm `graphql-ws` client, run with node as a web app runs it: status and live logs."""

from __future__ import annotations

import json
from pathlib import Path

from tests.clients.conftest import credentials, lines, run
from tests.contract.contract import operation
from tests.contract.scenarios import submit
from tests.support.api import Api


async def node_subscribe(api: Api, clients: Path, name: str, variables: dict) -> list[dict]:
    _, connection_params = credentials(api)
    job = {"query": operation(name), "variables": variables, "connectionParams": connection_params}
    return lines(await run("node", "subscribe.mjs", api.ws_url, json.dumps(job), cwd=clients))


async def test_node_client_follows_a_run_to_completion(api: Api, node_clients: Path) -> None:
    created = await submit(api, name="node-status", command=["sh", "-c", "sleep 3"])
    results = await node_subscribe(
        api, node_clients, "RunStatusUpdates", {"runId": created["run"]["id"]}
    )
    assert results[-1] == {"complete": True, "count": len(results) - 1}
    events = [r["data"]["runStatus"] for r in results[:-1]]
    assert all("errors" not in r for r in results[:-1])
    assert events[-1]["status"] == "COMPLETED" and events[-1]["exitCode"] == 0
    # The current state first (however far the run got while node started), then each change.
    lifecycle = ["SUBMITTED", "PENDING", "RUNNING", "COMPLETED"]
    statuses = [e["status"] for e in events]
    assert statuses == sorted(statuses, key=lifecycle.index)


async def test_node_client_follows_a_run_s_live_log(api: Api, node_clients: Path) -> None:
    command = ["sh", "-c", "for i in 1 2 3 4 5; do echo line $i; sleep 0.2; done"]
    created = await submit(api, name="node-logs", command=command)
    variables = {"runId": created["run"]["id"], "container": "main"}
    results = await node_subscribe(api, node_clients, "RunLogs", variables)
    assert results[-1]["complete"] is True
    texts = [line["text"] for r in results[:-1] for line in r["data"]["runLogs"]["lines"]]
    assert texts == [f"line {i}" for i in range(1, 6)]
