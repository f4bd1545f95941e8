"""Following a run's log live: one upstream stream, many subscribers, cursors, the archive."""

from __future__ import annotations

import asyncio
import json
from contextlib import AsyncExitStack
from pathlib import Path

import websockets
from kubernetes_asyncio import client

from tests.logs.conftest import (
    RUN_LOGS,
    all_pages,
    download,
    expected,
    follow_logs,
    lines_of,
    printing,
    start_run,
    wait_status,
)
from tests.support.api import Api
from tests.support.graphql import init_payload, node_uuid


async def test_a_run_s_log_arrives_in_batches_then_completes_and_is_archived(api: Api) -> None:
    run_id = await start_run(api, printing(2000, width=4))
    batches = await follow_logs(api, run_id)
    lines = lines_of(batches)
    assert [line["text"] for line in lines] == expected(2000, width=4)
    assert len(batches) < len(lines), "lines travel in batches"
    assert {line["stream"] for line in lines} == {"main"}
    assert {line["attempt"] for line in lines} == {1}
    assert len({line["cursor"] for line in lines}) == len(lines)
    stamps = [line["timestamp"] for line in lines]
    assert stamps == sorted(stamps) and all(s.endswith("Z") and len(s) == 30 for s in stamps)
    assert batches[-1]["endCursor"] == lines[-1]["cursor"]
    # The archive holds the same lines, as `kubectl logs --timestamps` prints them.
    archived = (await download(api, run_id)).splitlines()
    assert archived == [f"{line['timestamp']} {line['text']}" for line in lines]
    # A subscriber joining after the end gets the whole log, then completion.
    again = lines_of(await follow_logs(api, run_id))
    assert again == lines


async def test_many_subscribers_see_the_same_lines_in_the_same_order(api: Api) -> None:
    run_id = await start_run(api, printing(300, sleep=0.01))
    await wait_status(api, run_id, "RUNNING", "COMPLETED")
    results = await asyncio.gather(*(follow_logs(api, run_id) for _ in range(10)))
    seen = [[(line["cursor"], line["text"]) for line in lines_of(r)] for r in results]
    assert all(s == seen[0] for s in seen)
    assert [text for _, text in seen[0]] == expected(300)


async def test_resuming_from_a_cursor_mid_run_gives_exactly_the_missed_lines(api: Api) -> None:
    run_id = await start_run(api, printing(400, sleep=0.005))
    async with api.subscribe(RUN_LOGS, {"runId": run_id}) as sub:
        first = await asyncio.wait_for(sub.next(), timeout=60)
    assert first is not None
    seen = first["runLogs"]["lines"]
    rest = lines_of(await follow_logs(api, run_id, after=first["runLogs"]["endCursor"]))
    assert [line["text"] for line in seen + rest] == expected(400)
    # Paging the query gives the same lines with the same cursors.
    assert await all_pages(api, run_id, 77) == seen + rest


async def test_pages_forwards_and_backwards(api: Api) -> None:
    run_id = await start_run(api, printing(250))
    everything = lines_of(await follow_logs(api, run_id))
    assert len(everything) == 250
    tail = (await api.gql(LOGS_PAGE_TAIL, {"id": run_id}))["run"]["logs"]
    assert [e["node"] for e in tail["edges"]] == everything[-10:]
    assert tail["pageInfo"]["hasPreviousPage"] and not tail["pageInfo"]["hasNextPage"]
    before = tail["pageInfo"]["startCursor"]
    page = (await api.gql(LOGS_PAGE_BEFORE, {"id": run_id, "before": before}))["run"]["logs"]
    assert [e["node"] for e in page["edges"]] == everything[-20:-10]


LOGS_PAGE_TAIL = """
query Tail($id: ID!) { run(id: $id) { logs(last: 10) {
  edges { node { cursor timestamp text stream attempt } }
  pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } } }
"""

LOGS_PAGE_BEFORE = """
query Before($id: ID!, $before: String) { run(id: $id) { logs(last: 10, before: $before) {
  edges { node { cursor timestamp text stream attempt } } } } }
"""


async def test_one_upstream_stream_per_pod_whatever_the_number_of_subscribers(
    api: Api, tmp_path: Path
) -> None:
    # The run prints half its lines, then waits for the test: its streams stay open however
    # slowly the 100 subscribers connect.
    gate = tmp_path / "go-on"
    script = (
        "import os, sys, time\n"
        "for i in range(40):\n"
        f"    while i == 20 and not os.path.exists({str(gate)!r}): time.sleep(0.05)\n"
        "    sys.stdout.write('line {}\\n'.format(i)); sys.stdout.flush()\n"
    )
    run_id = await start_run(api, ["python", "-c", script])
    await wait_status(api, run_id, "RUNNING")
    # One stream per running container of the pod (main, and the sidecar if there is one).
    pods = await client.CoreV1Api(api.platform.kube).list_namespaced_pod(
        api.namespace, label_selector=f"walkai.io/run-id={node_uuid(run_id)}"
    )
    (pod,) = pods.items
    key = f"{api.namespace}/{pod.metadata.name}"
    sidecars = [c for c in pod.spec.init_containers or [] if c.restart_policy == "Always"]
    containers = len(pod.spec.containers) + len(sidecars)
    async with AsyncExitStack() as stack:
        subs = [
            await stack.enter_async_context(api.subscribe(RUN_LOGS, {"runId": run_id}))
            for _ in range(100)
        ]
        firsts = await asyncio.gather(*(asyncio.wait_for(s.next(), 60) for s in subs))
        assert all(f is not None and f["runLogs"]["lines"] for f in firsts)
        assert api.cluster.stats.open_log_streams_by_pod.get(key) == containers
        gate.touch()
        results = await asyncio.gather(*(asyncio.wait_for(s.collect(), 60) for s in subs))
    texts = [
        [line["text"] for line in f["runLogs"]["lines"]]
        + [line["text"] for b in r for line in b["runLogs"]["lines"]]
        for f, r in zip(firsts, results, strict=True)
    ]
    assert all(t == expected(40) for t in texts)


async def _raw_messages(api: Api, protocol: str, op_id: str, run_id: str) -> list[str]:
    """Every message of one runLogs subscription, as the server sent it (text)."""
    start = "subscribe" if protocol == "graphql-transport-ws" else "start"
    async with websockets.connect(api.ws_url, subprotocols=[protocol]) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init", "payload": init_payload(api.token)}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        payload = {"query": RUN_LOGS, "variables": {"runId": run_id}}
        await ws.send(json.dumps({"id": op_id, "type": start, "payload": payload}))
        messages = []
        while True:
            text = str(await asyncio.wait_for(ws.recv(), timeout=60))
            kind = json.loads(text)["type"]
            if kind == "complete":
                return messages
            if kind != "ka":
                messages.append(text)


async def test_every_subscriber_gets_the_very_messages_the_graphql_pipeline_makes(api: Api) -> None:
    # The first subscriber's events go through execution; the others' are sent as executed for
    # it (app.graphql.streaming): byte for byte the same, and the legacy protocol's data alike.
    script = "import time; time.sleep(2)\n" + printing(20, sleep=0.05)[2]
    run_id = await start_run(api, ["python", "-c", script])
    ids = ["a", "b", "c"]
    *transport, legacy = await asyncio.gather(
        *(_raw_messages(api, "graphql-transport-ws", i, run_id) for i in ids),
        _raw_messages(api, "graphql-ws", "d", run_id),
    )
    assert transport[0], "no messages"
    for op_id, messages in zip(ids, transport, strict=True):
        assert [json.loads(m)["id"] for m in messages] == [op_id] * len(messages)
        assert [m.replace(f'"id":"{op_id}"', '"id":"?"', 1) for m in messages] == [
            m.replace('"id":"a"', '"id":"?"', 1) for m in transport[0]
        ]
    texts = [
        line["text"]
        for m in legacy
        for line in json.loads(m)["payload"]["data"]["runLogs"]["lines"]
    ]
    assert texts == expected(20)
    assert [json.loads(m)["payload"] for m in legacy] == [
        json.loads(m)["payload"] for m in transport[0]
    ]
