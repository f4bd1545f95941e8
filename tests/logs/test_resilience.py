"""Logs survive what breaks: cut streams, an API restart, slow clients, odd bytes."""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import websockets

from tests.logs.conftest import (
    RUN_LOGS,
    all_pages,
    expected,
    follow_logs,
    lines_of,
    printing,
    start_run,
    wait_status,
)
from tests.support.api import Api
from tests.support.graphql import subscribe
from tests.support.servers import serve


async def first_lines(api: Api, run_id: str, at_least: int) -> tuple[list[dict[str, Any]], str]:
    """Lines from a subscription until `at_least` arrived; and the last cursor."""
    seen: list[dict[str, Any]] = []
    async with api.subscribe(RUN_LOGS, {"runId": run_id}) as sub:
        while len(seen) < at_least:
            batch = await asyncio.wait_for(sub.next(), timeout=60)
            assert batch is not None
            seen.extend(batch["runLogs"]["lines"])
    return seen, seen[-1]["cursor"]


async def test_streams_cut_by_the_cluster_resume_without_gaps_or_duplicates(api: Api) -> None:
    run_id = await start_run(api, printing(300, sleep=0.01))
    seen, _ = await first_lines(api, run_id, 20)
    opened = api.cluster.stats.log_streams_opened
    await api.cluster.restart()  # every open log stream ends mid-run
    lines = lines_of(await follow_logs(api, run_id))
    assert [line["text"] for line in lines] == expected(300)
    assert lines[: len(seen)] == seen
    assert api.cluster.stats.log_streams_opened > opened, "the follower reconnected"


async def test_long_lines_are_split_and_invalid_utf8_is_replaced(api: Api) -> None:
    script = (
        "import sys\n"
        "out = sys.stdout.buffer\n"
        "out.write(b'a' * 40000 + b'\\n')\n"
        "out.write(b'bad \\xff\\xfe end\\n')\n"
        "out.write('\\u00e9'.encode() * 10000 + b'\\n')\n"
        "out.write(b'nul \\x00 byte\\n')\n"
    )
    run_id = await start_run(api, ["python", "-c", script])
    texts = [line["text"] for line in lines_of(await follow_logs(api, run_id))]
    assert texts == [
        "a" * 16384,
        "a" * 16384,
        "a" * (40000 - 2 * 16384),
        "bad \ufffd\ufffd end",
        "\u00e9" * 8192,  # 16,384 bytes: the cut never falls inside a character
        "\u00e9" * (10000 - 8192),
        "nul \ufffd byte",
    ]


async def test_an_api_restarted_mid_run_loses_and_duplicates_nothing(api: Api) -> None:
    run_id = await start_run(api, printing(500, sleep=0.01))
    seen, cursor = await first_lines(api, run_id, 30)
    # Stop this API (Tortoise is process-wide: one platform at a time), let the run print on,
    # then serve from a fresh app and platform on the same database.
    loops = [type(loop) for loop in api.platform.leader_loops]
    await api.platform.stop()
    try:
        await asyncio.sleep(0.5)
        variables = {"runId": run_id, "after": cursor}
        async with (
            serve(api.platform.settings) as served,
            subscribe(served.ws_url, RUN_LOGS, variables, token=api.token) as sub,
        ):
            rest = lines_of([b["runLogs"] for b in await asyncio.wait_for(sub.collect(), 90)])
    finally:
        await api.platform.start()
        assert api.platform.tracker is not None
        await api.platform.tracker.wait_synced()
    # Started again, it runs one of each loop (the last start's held its closed client).
    assert [type(loop) for loop in api.platform.leader_loops] == loops
    assert [line["text"] for line in seen + rest] == expected(500)
    assert await all_pages(api, run_id, 1000) == seen + rest


LINES = 60000


async def test_a_slow_client_gets_lagged_and_misses_nothing_while_a_fast_one_keeps_up(
    api: Api,
) -> None:
    # Enough output (about 10 MB) to fill the socket buffers between server and slow client.
    logs = api.platform.logs
    buffer, logs.buffer = logs.buffer, 4
    try:
        run_id = await start_run(api, printing(LINES, width=150))
        await wait_status(api, run_id, "RUNNING", "COMPLETED")
        async with slow_subscription(api, run_id) as slow:
            fast = await follow_logs(api, run_id)
            # The slow client reads only now, after the whole log went by.
            slow_batches = [b["runLogs"] async for b in slow]
    finally:
        logs.buffer = buffer
    want = expected(LINES, width=150)
    assert [line["text"] for line in lines_of(fast)] == want
    assert [line["text"] for line in lines_of(slow_batches)] == want
    assert any(b["lagged"] for b in slow_batches)


@asynccontextmanager
async def slow_subscription(api: Api, run_id: str) -> AsyncIterator[AsyncIterator[Any]]:
    """A runLogs subscription whose client reads nothing until iterated: a tiny receive
    buffer, a one-message queue and no compression make the server's sends block soon."""
    ws_url = api.ws_url
    host, port = ws_url.split("/")[2].split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((host, int(port)))
    sock.setblocking(False)
    async with websockets.connect(
        ws_url,
        sock=sock,
        subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
        max_queue=1,
        compression=None,
    ) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": api.connection_params}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        op = str(uuid.uuid4())
        await ws.send(
            json.dumps(
                {
                    "id": op,
                    "type": "subscribe",
                    "payload": {"query": RUN_LOGS, "variables": {"runId": run_id}},
                }
            )
        )

        async def messages() -> AsyncIterator[Any]:
            while True:
                message = json.loads(await asyncio.wait_for(ws.recv(), 60))
                if message["type"] == "complete":
                    return
                assert message["type"] == "next", message
                yield message["payload"]["data"]

        yield messages()
