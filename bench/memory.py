"""Server memory per websocket: 10,000 connections, each subscribed to `runStatus` and
`runLogs` of one running run.

    .venv/bin/python bench/memory.py [--connections 10000] [--processes 4] [--where 25]

The API serves in this process, on the simulated cluster; its RSS is read from /proc before
the connections open and once they have all received their first frames (ack, the run's
status, its log so far) and the server has been idle for a few seconds; the difference over
the number of connections is the figure (the cluster and the database are there before and
after). The anchor, in the same run: a bare `websockets` server in a fresh process that
accepts the same connections from the same clients, reads the same three frames from each and
answers with the very frames the API sent, then holds them all; its RSS is read the same way.
Clients are spread over `--processes` processes (file descriptors), their open-file limits
raised, and answer pings. `--where N` also prints the N source lines that allocated most of
what the connections hold (a `tracemalloc` snapshot diff; it slows the run and adds its own
memory, so the figure of such a run is not comparable).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gc
import json
import multiprocessing as mp
import os
import tempfile
import tracemalloc
from pathlib import Path
from typing import Any

from harness import Row, emit, raise_nofile, rss_kib, serve_api
from logs_fanout import _Reader

STATUS = "subscription($r: ID!) { runStatus(runId: $r) { id status statusVersion startedAt } }"
LOGS = "subscription($r: ID!) { runLogs(runId: $r) { lines { cursor timestamp text } } }"
SETTLE = 5.0


class _Holder(_Reader):
    """A client that keeps its first three frames (ack, status, log batch) and then holds."""

    def __init__(self, done: asyncio.Future[Any]) -> None:
        super().__init__("graphql", False, done)
        self.frames: list[bytes] = []
        self.acked = asyncio.get_running_loop().create_future()
        self.subscribed = True

    def message(self, buf: bytearray, start: int, end: int, now: float) -> None:
        self.frames.append(bytes(buf[start:end]))
        if not self.acked.done():
            self.acked.set_result(None)
        if len(self.frames) == 3 and not self.done.done():
            self.done.set_result(None)


async def _connect(url: str, run_id: str, token: str) -> _Holder:
    loop = asyncio.get_running_loop()
    done: asyncio.Future[Any] = loop.create_future()
    host, _, rest = url.removeprefix("ws://").partition("/")
    name, _, port = host.partition(":")
    _, holder = await loop.create_connection(lambda: _Holder(done), name, int(port))
    key = base64.b64encode(os.urandom(16)).decode()
    holder.transport.write(
        (
            f"GET /{rest} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            "Sec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n"
        ).encode()
    )
    await holder.upgraded
    init = {"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}
    holder.send(0x1, json.dumps(init).encode())
    await asyncio.wait_for(holder.acked, 120)  # subscribing before the ack is refused (4401)
    for op_id, query in (("1", STATUS), ("2", LOGS)):
        payload = {"query": query, "variables": {"r": run_id}}
        message = {"id": op_id, "type": "subscribe", "payload": payload}
        holder.send(0x1, json.dumps(message).encode())
    await asyncio.wait_for(done, 120)
    return holder


def _clients(url: str, run_id: str, token: str, n: int, conn: Any) -> None:
    """Open n connections (a few hundred at a time), say "ready" with one's frames, hold them
    until told to close."""
    from app.serving import run

    raise_nofile()

    async def main() -> None:
        holders: list[_Holder] = []
        while len(holders) < n:
            batch = min(200, n - len(holders))
            holders += await asyncio.gather(*(_connect(url, run_id, token) for _ in range(batch)))
        conn.send(("ready", [f.decode() for f in holders[0].frames]))
        while not conn.poll():
            await asyncio.sleep(0.1)
        for holder in holders:
            holder.transport.close()

    run(main())


async def _wait(conn: Any) -> Any:
    while not conn.poll():
        await asyncio.sleep(0.05)
    return conn.recv()


async def hold(url: str, run_id: str, token: str, n: int, processes: int) -> tuple[Any, list[str]]:
    """n connections over `processes` client processes; their pipes and one's frames."""
    spawn = mp.get_context("spawn")
    conns, frames = [], []
    for k in range(processes):
        share = n // processes + (k < n % processes)
        parent, child = mp.Pipe()
        spawn.Process(target=_clients, args=(url, run_id, token, share, child)).start()
        conns.append(parent)
    for conn in conns:
        _, frames = await _wait(conn)
    return conns, frames


def release(conns: list[Any]) -> None:
    for conn in conns:
        conn.send("close")


def _bare_server(frames: list[str], conn: Any) -> None:
    """Accept, read three frames, answer each with the API's frame, hold; report RSS."""
    import websockets

    from app.serving import run

    raise_nofile()

    async def main() -> None:
        held: set[Any] = set()

        async def handler(ws: Any) -> None:
            held.add(ws)
            for frame in frames:
                await ws.recv()
                await ws.send(frame)
            await ws.wait_closed()
            held.discard(ws)

        async with websockets.serve(
            handler,
            "127.0.0.1",
            0,
            compression=None,
            subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
            backlog=16384,
        ) as server:
            gc.collect()
            conn.send((server.sockets[0].getsockname()[1], rss_kib()))
            await _wait(conn)  # every client has its frames
            await asyncio.sleep(SETTLE)
            conn.send((len(held), rss_kib()))
            await _wait(conn)
            while held:
                await asyncio.sleep(0.05)

    run(main())


async def anchor(frames: list[str], n: int, processes: int) -> float:
    """KiB per connection held by the bare server."""
    parent, child = mp.Pipe()
    server = mp.get_context("spawn").Process(target=_bare_server, args=(frames, child))
    server.start()
    port, before = await _wait(parent)
    conns, _ = await hold(f"ws://127.0.0.1:{port}/graphql", "", "", n, processes)
    parent.send("measure")
    held, after = await _wait(parent)
    print(f"bare websockets: {held:,} held, RSS {before:,} -> {after:,} KiB", flush=True)
    release(conns)
    parent.send("done")
    server.join()
    return (after - before) / n


def _print_where(
    base: tracemalloc.Snapshot, now: tracemalloc.Snapshot, top: int, connections: int
) -> None:
    """The source lines whose allocations grew most while the connections opened."""
    diff = now.compare_to(base, "lineno")
    grown = sum(stat.size_diff for stat in diff)
    print(f"tracemalloc: {grown / 1024 / connections:.1f} KiB per connection allocated by Python")
    for stat in diff[:top]:
        frame = stat.traceback[0]
        print(
            f"  {stat.size_diff / 1024 / connections:7.2f} KiB/conn"
            f" {stat.count_diff / connections:6.1f} blocks/conn  {frame.filename}:{frame.lineno}"
        )


async def main(args: argparse.Namespace) -> None:
    from tests.api.operations import CREATE_JOB, job_input

    raise_nofile()
    work = Path(tempfile.mkdtemp(prefix="bench-memory-"))
    flag = work / "done"
    script = (
        "import os, time\n"
        "for i in range(20): print('step', i, 'loss', 1 / (i + 1), flush=True)\n"
        f"while not os.path.exists({str(flag)!r}): time.sleep(0.1)"
    )
    async with serve_api(work) as api:
        created = await api.gql(CREATE_JOB, {"input": job_input(command=["python", "-c", script])})
        run_id = created["createJob"]["run"]["id"]
        status = "query($r: ID!) { run(id: $r) { status } }"
        while (await api.gql(status, {"r": run_id}))["run"]["status"] != "RUNNING":
            await asyncio.sleep(0.1)
        # Warm: every code path of a connection has run once before the first reading.
        warm, _ = await hold(api.ws_url, run_id, api.token or "", 20, 1)
        release(warm)
        await asyncio.sleep(1)
        gc.collect()
        if args.where:
            tracemalloc.start(1)
        base = tracemalloc.take_snapshot() if args.where else None
        before = rss_kib()
        conns, frames = await hold(
            api.ws_url, run_id, api.token or "", args.connections, args.processes
        )
        await asyncio.sleep(SETTLE)
        after = rss_kib()
        if base is not None:
            _print_where(base, tracemalloc.take_snapshot(), args.where, args.connections)
            tracemalloc.stop()
        print(f"API: {args.connections:,} connections, RSS {before:,} -> {after:,} KiB", flush=True)
        release(conns)
        flag.touch()  # the run ends before the API stops
        status = "query($r: ID!) { run(id: $r) { status } }"
        while (await api.gql(status, {"r": run_id}))["run"]["status"] == "RUNNING":
            await asyncio.sleep(0.1)
    ours = (after - before) / args.connections
    bare = await anchor(frames, args.connections, args.processes)
    ratio = ours / bare
    emit(
        Row(
            f"memory per websocket, {args.connections:,} x (runStatus + runLogs) "
            "(KiB; anchor bare websockets)",
            ours,
            "KiB",
            bare,
            ratio,
            "<= 1.5x",
            ratio <= 1.5,
        )
    )


if __name__ == "__main__":
    from app.serving import run

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=10_000)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--where", type=int, default=0, metavar="N")
    run(main(parser.parse_args()))
