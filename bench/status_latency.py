"""Status latency: a pod's status change on the simulated cluster until `runStatus` clients
have it, 1,000 subscribers on one run; p50 and p99 over every subscriber of every run.

    .venv/bin/python bench/status_latency.py [--subscribers 1000] [--runs 3]

Each run's pod waits for a flag file and exits; the clock starts when the simulated cluster
commits the pod status that shows its main container terminated (read from its store's
in-process feed, in this process: the run's status follows the main container, while the
pod's phase waits for the sidecar to upload outputs) and stops when a client receives the
run's terminal status. Between the two: the watch to the API,
status derivation, the conditional write, the hub, the subscription's execution, the
websocket. The anchor, in the same run: a bare `websockets` server in a fresh process
broadcasting the very message the API sent to the same number of clients, from the call to
`broadcast` to receipt. Clients run in another process, reading frames straight off their
sockets (`logs_fanout._Reader`), the same code for both.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import multiprocessing as mp
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from harness import Row, emit, quantile, raise_nofile, serve_api
from logs_fanout import _Reader

QUERY = """subscription($r: ID!) { runStatus(runId: $r) {
  id number status reason message statusVersion exitCode attempts submittedAt startedAt
  finishedAt } }"""
TERMINAL = (b'"status":"COMPLETED"', b'"status":"FAILED"')


class _StatusReader(_Reader):
    """Records when the first message naming a terminal status (graphql) or any message (bare)
    arrived, and that message."""

    def __init__(self, mode: str, done: asyncio.Future[Any]) -> None:
        super().__init__(mode, False, done)
        self.first_seen = asyncio.get_running_loop().create_future()
        self.at: float | None = None
        self.raw = b""

    def message(self, buf: bytearray, start: int, end: int, now: float) -> None:
        body = bytes(buf[start:end])
        if not self.first_seen.done():
            self.first_seen.set_result(None)
            if self.mode == "graphql":
                return  # connection_ack, then the snapshot
        if self.at is None and (self.mode == "bare" or any(t in body for t in TERMINAL)):
            self.at, self.raw = now, body
            self.done.set_result(None)
            self.transport.close()


async def _client(url: str, mode: str, run_id: str, token: str) -> _StatusReader:
    loop = asyncio.get_running_loop()
    done: asyncio.Future[Any] = loop.create_future()
    host, _, rest = url.removeprefix("ws://").partition("/")
    name, _, port = host.partition(":")
    _, reader = await loop.create_connection(lambda: _StatusReader(mode, done), name, int(port))
    protocol = "Sec-WebSocket-Protocol: graphql-transport-ws\r\n" if mode == "graphql" else ""
    key = base64.b64encode(os.urandom(16)).decode()
    reader.transport.write(
        (
            f"GET /{rest} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            f"Sec-WebSocket-Version: 13\r\n{protocol}\r\n"
        ).encode()
    )
    await reader.upgraded
    if mode == "graphql":
        init = {"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}
        reader.send(0x1, json.dumps(init).encode())
        await reader.first_seen
        reader.first_seen = loop.create_future()
        reader.subscribed = True
        query = {"query": QUERY, "variables": {"r": run_id}}
        reader.send(0x1, json.dumps({"id": "1", "type": "subscribe", "payload": query}).encode())
        await reader.first_seen  # the run's current state: subscribed
    else:
        reader.subscribed = True
    return reader


def _clients(url: str, mode: str, run_id: str, token: str, n: int, conn: Any) -> None:
    """n clients; "ready" once all are subscribed, then their receipt times and one message."""
    from app.serving import run

    raise_nofile()

    async def main() -> None:
        readers = []
        for start in range(0, n, 100):  # not 1,000 handshakes at once on a loaded machine
            readers += await asyncio.gather(
                *(_client(url, mode, run_id, token) for _ in range(start, min(n, start + 100)))
            )
        conn.send("ready")
        await asyncio.gather(*(r.done for r in readers))
        conn.send(([r.at for r in readers if r.at], next(r.raw for r in readers if r.at).decode()))

    run(main())


async def _wait(conn: Any) -> Any:
    while not conn.poll():
        await asyncio.sleep(0.01)
    return conn.recv()


def _spawn(target: Any, *args: Any) -> tuple[Any, Any]:
    parent, child = mp.Pipe()
    proc = mp.get_context("spawn").Process(target=target, args=(*args, child))
    proc.start()
    return proc, parent


async def one_run(api: Any, n: int, work: Path, k: int) -> tuple[list[float], str]:
    """Latencies (s) of every subscriber of one run, and the message they got."""
    from app.kube.labels import RUN_ID
    from tests.api.operations import CREATE_JOB, job_input
    from tests.support.graphql import node_uuid

    flag = work / f"done-{k}"
    script = f"while [ ! -f {flag} ]; do sleep 0.01; done"
    created = await api.gql(CREATE_JOB, {"input": job_input(command=["sh", "-c", script])})
    run_id = created["createJob"]["run"]["id"]
    run_uuid = node_uuid(run_id)
    store = api.cluster.store
    while not any(
        (p.get("status") or {}).get("phase") == "Running"
        for p in api.platform.tracker.pods.cache.values()
        if p["metadata"].get("labels", {}).get(RUN_ID) == run_uuid
    ):
        await asyncio.sleep(0.05)
    proc, conn = _spawn(_clients, api.ws_url, "graphql", run_id, api.token, n)
    assert await _wait(conn) == "ready"
    feed = store.subscribe("pods")
    changed_at: list[float] = []
    push = feed._push

    def record(event: Any) -> None:
        pod = event.object
        statuses = (pod.get("status") or {}).get("containerStatuses") or []
        ended = any("terminated" in (c.get("state") or {}) for c in statuses)
        mine = pod["metadata"].get("labels", {}).get(RUN_ID) == run_uuid
        if mine and not changed_at and ended:
            changed_at.append(time.time())
        push(event)

    feed._push = record  # type: ignore[method-assign]
    await asyncio.sleep(0.5)  # every subscription past its snapshot
    flag.touch()
    times, raw = await _wait(conn)
    proc.join()
    feed.close()
    return [t - changed_at[0] for t in times], raw


def _bare_server(n: int, message: str, rounds: int, conn: Any) -> None:
    """Broadcast `message` to n clients once per round; the send times."""
    import websockets

    from app.serving import run

    raise_nofile()

    async def main() -> None:
        clients: set[Any] = set()

        async def handler(ws: Any) -> None:
            clients.add(ws)
            await ws.wait_closed()
            clients.discard(ws)

        async with websockets.serve(handler, "127.0.0.1", 0, compression=None) as server:
            conn.send(server.sockets[0].getsockname()[1])
            for _ in range(rounds):
                while len(clients) < n:
                    await asyncio.sleep(0.01)
                conn.recv()  # the clients are ready
                await asyncio.sleep(0.5)
                sent = time.time()
                websockets.broadcast(clients, message)
                conn.send(sent)
                while clients:
                    await asyncio.sleep(0.01)

    run(main())


async def anchor(n: int, message: str, rounds: int) -> list[float]:
    server, server_conn = _spawn(_bare_server, n, message, rounds)
    port = await _wait(server_conn)
    latencies: list[float] = []
    for _ in range(rounds):
        proc, conn = _spawn(_clients, f"ws://127.0.0.1:{port}/", "bare", "", "", n)
        assert await _wait(conn) == "ready"
        server_conn.send("go")
        sent = await _wait(server_conn)
        times, _ = await _wait(conn)
        proc.join()
        latencies += [t - sent for t in times]
    server.join()
    return latencies


async def main(args: argparse.Namespace) -> None:
    raise_nofile()
    work = Path(tempfile.mkdtemp(prefix="bench-status-"))
    ours: list[float] = []
    async with serve_api(work) as api:
        for k in range(args.runs):
            latencies, raw = await one_run(api, args.subscribers, work, k)
            ours += latencies
            print(
                f"run {k + 1}: p50 {quantile(latencies, 0.5) * 1e3:.1f} ms, "
                f"p99 {quantile(latencies, 0.99) * 1e3:.1f} ms",
                flush=True,
            )
    bare = await anchor(args.subscribers, raw, args.runs)
    figures = {q: (quantile(ours, q) * 1e3, quantile(bare, q) * 1e3) for q in (0.5, 0.99)}
    print(f"message: {raw}")
    for q, (mine, theirs) in figures.items():
        print(f"p{round(q * 100)}: API {mine:.1f} ms, bare broadcast {theirs:.1f} ms")
    n = args.subscribers
    p99, p99_bare = figures[0.99]
    p50, p50_bare = figures[0.5]
    emit(
        Row(
            f"status latency p99, {n:,} runStatus subscribers (ms; anchor bare broadcast)",
            p99,
            "ms",
            p99_bare,
            p99 / p99_bare,
            "p99 < 50 ms",
            p99 < 50,
        )
    )
    emit(Row(f"  status latency p50, {n:,} subscribers (ms)", p50, "ms", p50_bare, p50 / p50_bare))


if __name__ == "__main__":
    from app.serving import run

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    run(main(parser.parse_args()))
