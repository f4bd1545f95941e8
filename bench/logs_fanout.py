"""Live log fan-out: one pod printing as fast as it can, N = 1, 100, 1000 runLogs subscribers.

Prints, per N: lines/s delivered (line deliveries summed over subscribers / wall time from the
first line printed to the last line received), lines per message, p50/p99 delivery latency
(receive time minus the line's kubelet timestamp, on sampled clients), the number of upstream
log streams the simulated cluster counted, and the same figures for a bare `websockets`
broadcast in the same run, with the ratio. Then the paced scenario: a pod printing `--rate`
lines a second for `--seconds` to `--paced` subscribers.

Fairness: the bare server sends the same lines in the same messages (as many lines per message
as a sampled API client received, in the same order; paced: at the same moments), each message
serialized once, to the same number of clients, measured by the same client code. The pod
starts printing only once every subscription is set up on the server. Server (API + simulated
cluster) and clients run in two processes, as in DESIGN.md's baseline. Compression: the clients
offer permessage-deflate as browsers do; neither server accepts it (`compression=None` for the
bare one, `ws_per_message_deflate=False` for uvicorn, also the production setting in
`app/cli.py`): compressing per subscriber would measure zlib, and cost CPU per subscriber.

    .venv/bin/python bench/logs_fanout.py [--lines 5000] [--lines-1000 2000] [--subscribers 1 100]
        [--paced 1000] [--rate 1000] [--seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the tests' helpers

SAMPLED = 10  # clients that parse every message for latency; the others count lines only
QUERY = "subscription($r: ID!) { runLogs(runId: $r) { lines { cursor timestamp text } } }"


def _stamp(ts: str) -> float:
    return datetime.fromisoformat(ts[:26] + "+00:00").timestamp()


async def _client(url: str, mode: str, run_id: str, token: str, sample: bool, out: list[Any]):
    import websockets

    lines, latencies, last, first = 0, [], 0.0, float("inf")
    sizes: list[int] = []  # lines per message, and when each arrived (sampled clients)
    times: list[float] = []
    if mode == "graphql":
        ws = await websockets.connect(url, subprotocols=["graphql-transport-ws"], max_size=None)  # type: ignore[list-item]
        await ws.send(
            json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}})
        )
        await ws.recv()
        await ws.send(
            json.dumps(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {"query": QUERY, "variables": {"r": run_id}},
                }
            )
        )
    else:
        ws = await websockets.connect(url, max_size=None)
    out.append("ready")
    async for raw in ws:
        now = time.time()
        if sample:
            msg = json.loads(raw)
            if msg.get("type") == "complete" or msg.get("end"):
                break
            batch = (
                msg["payload"]["data"]["runLogs"]["lines"] if mode == "graphql" else msg["lines"]
            )
            lines += len(batch)
            sizes.append(len(batch))
            times.append(now)
            first = min(first, _stamp(batch[0]["timestamp"])) if batch else first
            latencies.extend(
                now - _stamp(line["timestamp"]) for line in batch[:: max(1, len(batch) // 20)]
            )
        else:
            if '"complete"' in raw[:60] or '"end"' in raw[:20]:
                break
            lines += raw.count('"cursor"')
        last = now
    await ws.close()
    out.append((lines, latencies, last, sizes, times, first))


def _clients_process(url: str, mode: str, run_id: str, token: str, n: int, conn: Any) -> None:
    async def main() -> None:
        out: list[Any] = []
        tasks = [
            asyncio.create_task(_client(url, mode, run_id, token, i < SAMPLED, out))
            for i in range(n)
        ]
        while out.count("ready") < n:
            await asyncio.sleep(0.05)
        conn.send("ready")
        await asyncio.gather(*tasks)
        conn.send([o for o in out if o != "ready"])

    asyncio.run(main())


def _summary(results: list[Any]) -> dict[str, float]:
    # From the first line printed (its kubelet timestamp; the bare server's send time) to the
    # last line received: a pod's start-up time is not counted.
    start = min(r[5] for r in results)
    total = sum(r[0] for r in results)
    end = max(r[2] for r in results)
    lat = sorted(x for r in results for x in r[1])
    q = statistics.quantiles(lat, n=100) if len(lat) > 1 else [0.0] * 99
    return {
        "lines_per_s": total / max(end - start, 1e-9),
        "p50_ms": q[49] * 1000,
        "p99_ms": q[98] * 1000,
    }


def _printer(lines: int, flag: Path, rate: int) -> str:
    """A pod's script: wait for `flag`, then print `lines` lines, as fast as it can (rate 0)
    or `rate` lines a second (ten lines every 10 ms, flushed)."""
    head = f"import os, sys, time\nwhile not os.path.exists({str(flag)!r}): time.sleep(0.01)\n"
    line = "w('line %08d %s\\n' % (i, 'x' * 60))"
    if not rate:
        return head + f"w = sys.stdout.write\nfor i in range({lines}): {line}\n"
    step = rate // 100
    return head + (
        f"w = sys.stdout.write\nt0 = time.time()\n"
        f"for k in range({lines // step}):\n"
        f"    for i in range(k * {step}, (k + 1) * {step}): {line}\n"
        f"    sys.stdout.flush()\n"
        f"    time.sleep(max(0, t0 + (k + 1) * 0.01 - time.time()))\n"
    )


async def _run_one(
    api: Any, n: int, lines: int, work: Path, rate: int
) -> tuple[dict[str, float], int, list[int], list[float]]:
    from app.services.logs import log_topic
    from tests.api.operations import CREATE_JOB, job_input
    from tests.support.graphql import node_uuid

    flag = work / f"go-{n}-{rate}"
    script = _printer(lines, flag, rate)
    created = await api.gql(CREATE_JOB, {"input": job_input(command=["python", "-c", script])})
    run_id = created["createJob"]["run"]["id"]
    parent, child = mp.Pipe()
    proc = mp.get_context("spawn").Process(
        target=_clients_process, args=(api.ws_url, "graphql", run_id, api.token, n, child)
    )
    proc.start()
    while not parent.poll():
        await asyncio.sleep(0.05)
    parent.recv()
    # Every subscription is set up on the server (parsed, authorized, listening) before the
    # pod prints: the figures are about delivery, not about accepting 1,000 subscriptions.
    topic = log_topic(node_uuid(run_id))
    while api.platform.logs.hub.subscriber_count(topic) < n:
        await asyncio.sleep(0.05)
    flag.touch()
    streams = 0
    while not parent.poll():
        streams = max(streams, sum(api.cluster.stats.open_log_streams_by_pod.values()))
        await asyncio.sleep(0.05)
    results = parent.recv()
    proc.join()
    # How the API batched the lines (as a sampled client received them): the bare broadcast
    # sends the same lines in the same messages.
    sizes, times = next(
        ((r[3], r[4]) for r in results if r[3] and sum(r[3]) == lines), (results[0][3], [])
    )
    return _summary(results), streams, sizes, times


async def _baseline(n: int, batches: list[str], offsets: list[float] | None) -> dict[str, float]:
    """The same messages broadcast to `n` clients by a bare `websockets` server: as fast as
    it can, or (paced) at the offsets the API's clients received them."""
    import websockets

    clients: set[Any] = set()

    async def handler(ws: Any) -> None:
        clients.add(ws)
        await ws.wait_closed()

    # No permessage-deflate on either server (see the module docstring).
    async with websockets.serve(handler, "127.0.0.1", 0, max_size=None, compression=None) as server:
        url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}"  # type: ignore[attr-defined]
        parent, child = mp.Pipe()
        proc = mp.get_context("spawn").Process(
            target=_clients_process, args=(url, "bare", "", "", n, child)
        )
        proc.start()
        while not parent.poll():
            await asyncio.sleep(0.05)
        parent.recv()
        while len(clients) < n:
            await asyncio.sleep(0.05)
        start = time.time()
        for i, batch in enumerate(batches):
            if offsets is not None:
                await asyncio.sleep(max(0.0, start + offsets[i] - time.time()))
            stamp = datetime.now(UTC).isoformat()
            # Same lines, stamped at send time (latency of the broadcast alone).
            websockets.broadcast(clients, batch.replace("@TS@", stamp[:26]))
            await asyncio.sleep(0)
        websockets.broadcast(clients, '{"end": true}')
        while not parent.poll():
            await asyncio.sleep(0.05)
        results = parent.recv()
        proc.join()
    return _summary(results)


async def _compare(api: Any, platform: Any, n: int, lines: int, work: Path, rate: int) -> None:
    from tests.support.graphql import node_uuid

    ours, streams, sizes, times = await _run_one(api, n, lines, work, rate)
    stored = await platform.logs.lines(
        node_uuid(await _last_run(api)), limit=lines, container="main"
    )
    batches, at = [], 0
    for size in sizes or [len(stored)]:
        chunk = stored[at : at + size]
        at += size
        batches.append(
            json.dumps(
                {
                    "lines": [
                        {"cursor": str(s.seq), "timestamp": "@TS@", "text": s.text} for s in chunk
                    ]
                }
            )
        )
    offsets = [t - times[0] for t in times] if rate and times else None
    bare = await _baseline(n, batches, offsets)
    label = f"{n}" + (f" @{rate}/s" if rate else "")
    print(
        f"{label:<11} {lines:>6} {lines / max(len(sizes), 1):>6.0f} {ours['lines_per_s']:>12,.0f}"
        f" {ours['p50_ms']:>7.1f} {ours['p99_ms']:>7.1f} {streams:>7} | "
        f"{bare['lines_per_s']:>12,.0f} {bare['p50_ms']:>7.1f} {bare['p99_ms']:>7.1f} | "
        f"{ours['lines_per_s'] / bare['lines_per_s']:.2f}x",
        flush=True,
    )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=5000)
    parser.add_argument("--lines-1000", type=int, default=2000)
    parser.add_argument("--subscribers", type=int, nargs="*", default=[1, 100, 1000])
    parser.add_argument("--paced", type=int, default=1000, help="subscribers (0: skip)")
    parser.add_argument("--rate", type=int, default=1000, help="paced lines a second")
    parser.add_argument("--seconds", type=int, default=5, help="paced duration")
    args = parser.parse_args()

    import logging
    import socket

    import uvicorn

    from app.config import load_settings
    from app.server import create_app
    from app.sim.cluster import SimCluster
    from tests.support.api import Api, new_account
    from tests.support.graphql import GraphQLHTTP

    logging.disable(logging.WARNING)
    work = Path(tempfile.mkdtemp(prefix="logs-fanout-"))
    cluster = SimCluster(port=0, config_path=None, workdir=work / "sim")
    await cluster.start()
    cluster.write_kubeconfig(work / "kubeconfig")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    settings = load_settings(
        public_url=f"http://127.0.0.1:{port}",
        database_url=f"sqlite://{work / 'db.sqlite'}",
        data_dir=work / "data",
        kubeconfig=work / "kubeconfig",
        namespace="bench",
        create_namespace=True,
        output_volume="emptyDir",
        storage={"backend": "local", "local_root": work / "objects"},
    )
    app = create_app(settings)
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", lifespan="on", ws_per_message_deflate=False)
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.02)
    platform = app.state.platform
    await platform.tracker.wait_synced()
    user, token = await new_account("MEMBER", "bench@example.com")
    api = Api(
        backend="sqlite",
        base_url=f"http://127.0.0.1:{port}",
        ws_url=f"ws://127.0.0.1:{port}/graphql",
        http=GraphQLHTTP(f"http://127.0.0.1:{port}", token),
        platform=platform,
        kubeconfig=work / "kubeconfig",
        namespace="bench",
        cluster=cluster,
        token=token,
        user=user,
    )
    print(
        "N           lines  l/msg  api lines/s  p50 ms  p99 ms streams | "
        "bare lines/s  p50 ms  p99 ms | ratio"
    )
    try:
        for n in args.subscribers:
            lines = args.lines_1000 if n >= 1000 else args.lines
            await _compare(api, platform, n, lines, work, 0)
        if args.paced:
            await _compare(api, platform, args.paced, args.rate * args.seconds, work, args.rate)
    finally:
        await api.close()
        server.should_exit = True
        await task
        await cluster.stop()


async def _last_run(api: Any) -> str:
    data = await api.gql("{ jobs(first: 1) { edges { node { latestRun { id } } } } }")
    run_id: str = data["jobs"]["edges"][0]["node"]["latestRun"]["id"]
    return run_id


if __name__ == "__main__":
    asyncio.run(main())
