"""Live log fan-out: one pod printing as fast as it can, N = 1, 100, 1000 runLogs subscribers.

Prints, per N: lines/s delivered (line deliveries summed over subscribers / wall time from the
first line printed to the last line received), lines per message, p50/p99 delivery latency
(receive time minus the line's kubelet timestamp, on sampled clients), the number of upstream
log streams the simulated cluster counted, and the same figures for a bare `websockets`
broadcast in the same run, with the ratio. Then the paced scenarios: a pod printing `--rate`
lines a second for `--seconds` to each number of `--paced` subscribers.

Fairness: the bare server sends the same lines in the same messages (as many lines per message
as a sampled API client received, in the same order; paced: at the same moments), each message
serialized once, to the same number of clients, measured by the same client code. The pod
starts printing only once every subscription is set up on the server. Servers and clients run
in separate processes: the API with the simulated cluster in this one, as in DESIGN.md's
baseline; the bare server in a fresh process of its own (nothing left over from the API's
scenario to slow it); the clients of each scenario in another, reading frames straight off
their sockets (`_Reader`) so that their cost stays well below the servers'. Compression: none
on either server (`compression=None` for the bare one; `ws_per_message_deflate=False` for
uvicorn, as `app/serving.py` sets it): compressing per subscriber would measure zlib. Event
loop: the one `walkai-jobs serve` runs on (uvloop) in every process, servers and clients.

    .venv/bin/python bench/logs_fanout.py [--lines 5000] [--lines-1000 2000]
        [--subscribers 1 100 1000] [--paced 1 100 1000] [--rate 1000] [--seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import multiprocessing as mp
import os
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the tests' helpers

from harness import Row, emit

SAMPLED = 10  # clients that parse every message for latency; the others count lines only
_TIMESTAMP = re.compile(r'"timestamp":"[^"]*"')
QUERY = "subscription($r: ID!) { runLogs(runId: $r) { lines { cursor timestamp text } } }"


def _stamp(ts: str) -> float:
    return datetime.fromisoformat(ts[:26] + "+00:00").timestamp()


class _Reader(asyncio.Protocol):
    """One measuring client: a websocket read frame by frame straight off the socket.

    The clients of every scenario run in one process on one core, so their cost per message
    must stay far below the servers' (a full client library's per-message task wake-up would
    make both figures measure the client). Sampled clients parse each message for latency; the
    others only count the lines in it. Pings are answered, as any client must.
    """

    def __init__(self, mode: str, sample: bool, done: asyncio.Future[Any]) -> None:
        self.mode, self.sample, self.done = mode, sample, done
        self.buf = bytearray()
        self.upgraded = asyncio.get_running_loop().create_future()
        self.messages: asyncio.Queue[bytes] = asyncio.Queue()  # before subscribing only
        self.subscribed = False
        self.lines, self.last, self.first = 0, 0.0, float("inf")
        self.latencies: list[float] = []
        self.raws: list[str] = []  # each message as sent, and when it arrived (sampled clients)
        self.times: list[float] = []

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def send(self, opcode: int, payload: bytes) -> None:
        """A masked client frame (RFC 6455 §5.3)."""
        mask = os.urandom(4)
        size = len(payload)
        head = bytes([0x80 | opcode])
        if size < 126:
            head += bytes([0x80 | size])
        elif size < 65536:
            head += bytes([0x80 | 126]) + size.to_bytes(2, "big")
        else:
            head += bytes([0x80 | 127]) + size.to_bytes(8, "big")
        key = int.from_bytes((mask * (size // 4 + 1))[:size], "big")
        body = (int.from_bytes(payload, "big") ^ key).to_bytes(size, "big")
        self.transport.write(head + mask + body)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.upgraded.done():
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            if not self.buf.startswith(b"HTTP/1.1 101"):
                self.upgraded.set_exception(RuntimeError(bytes(self.buf[:200]).decode()))
                return
            del self.buf[: end + 4]
            self.upgraded.set_result(None)
        buf, at, now = self.buf, 0, 0.0
        while len(buf) - at >= 2:
            opcode, size, start = buf[at] & 0x0F, buf[at + 1] & 0x7F, at + 2
            if size == 126:
                size, start = int.from_bytes(buf[at + 2 : at + 4], "big"), at + 4
            elif size == 127:
                size, start = int.from_bytes(buf[at + 2 : at + 10], "big"), at + 10
            if len(buf) < start + size:
                break
            at = start + size
            if opcode == 0x9:
                self.send(0xA, bytes(buf[start:at]))
            elif opcode == 0x8:
                self.finish()
            elif opcode in (0x1, 0x2):
                now = now or time.time()
                self.message(buf, start, at, now)
        del buf[:at]

    def message(self, buf: bytearray, start: int, end: int, now: float) -> None:
        if not self.subscribed:
            self.messages.put_nowait(bytes(buf[start:end]))
            return
        head = bytes(buf[start : start + 60])
        if b'"complete"' in head or b'"end"' in head or b'"error"' in head:
            self.finish()
            return
        self.last = now
        if not self.sample:
            self.lines += buf.count(b'"cursor"', start, end)
            return
        raw = buf[start:end].decode()
        batch = json.loads(raw)["payload"]["data"]["runLogs"]["lines"]
        self.lines += len(batch)
        self.raws.append(raw)
        self.times.append(now)
        if batch:
            self.first = min(self.first, _stamp(batch[0]["timestamp"]))
        self.latencies.extend(
            now - _stamp(line["timestamp"]) for line in batch[:: max(1, len(batch) // 20)]
        )

    def finish(self) -> None:
        if not self.done.done():
            self.done.set_result(
                (self.lines, self.latencies, self.last, self.raws, self.times, self.first)
            )
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.finish()


async def _client(url: str, mode: str, run_id: str, token: str, sample: bool, out: list[Any]):
    loop = asyncio.get_running_loop()
    done: asyncio.Future[Any] = loop.create_future()
    host, _, rest = url.removeprefix("ws://").partition("/")
    name, _, port = host.partition(":")
    _, reader = await loop.create_connection(lambda: _Reader(mode, sample, done), name, int(port))
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
        await reader.messages.get()  # connection_ack
        query = {"query": QUERY, "variables": {"r": run_id}}
        reader.subscribed = True
        reader.send(0x1, json.dumps({"id": "1", "type": "subscribe", "payload": query}).encode())
    else:
        reader.subscribed = True
    out.append("ready")
    out.append(await done)


def _clients_process(url: str, mode: str, run_id: str, token: str, n: int, conn: Any) -> None:
    from app.serving import run

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

    run(main())


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
) -> tuple[dict[str, float], str, list[str], list[float]]:
    from app.kube.labels import RUN_ID
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
    # Every subscription is set up on the server (parsed, authorized, its backlog read, waiting
    # for lines) before the pod prints: the figures are about delivery, not about accepting
    # 1,000 subscriptions.
    topic = log_topic(node_uuid(run_id))
    while api.platform.logs.hub.subscriber_count(topic, waiting=True) < n:
        await asyncio.sleep(0.05)
    flag.touch()
    # Upstream log streams open on this run's pod, against its containers (main, sidecar).
    streams, containers = 0, 0
    while not parent.poll():
        pods = [
            pod
            for pod in api.platform.tracker.pods.cache.values()
            if pod["metadata"]["labels"].get(RUN_ID) == str(node_uuid(run_id))
        ]
        for pod in pods:
            key = f"{api.namespace}/{pod['metadata']['name']}"
            streams = max(streams, api.cluster.stats.open_log_streams_by_pod.get(key, 0))
            spec = pod["spec"]
            sidecars = [c for c in spec.get("initContainers") or [] if c.get("restartPolicy")]
            containers = len(spec["containers"]) + len(sidecars)
        await asyncio.sleep(0.05)
    results = parent.recv()
    proc.join()
    # The messages as a sampled client received them, whole: the bare broadcast sends them.
    raws, times = next(
        ((r[3], r[4]) for r in results if r[3] and r[0] == lines), (results[0][3], [])
    )
    return _summary(results), f"{streams}/{containers}", raws, times


def _bare_server(n: int, batches: list[str], offsets: list[float] | None, conn: Any) -> None:
    """A bare `websockets` server, in a process of its own: it broadcasts the same messages to
    `n` clients as fast as it can, or (paced) at the offsets the API's clients received them."""
    import websockets

    from app.serving import run

    async def main() -> None:
        clients: set[Any] = set()

        async def handler(ws: Any) -> None:
            clients.add(ws)
            await ws.wait_closed()

        # No permessage-deflate on either server (see the module docstring).
        async with websockets.serve(handler, "127.0.0.1", 0, max_size=None, compression=None) as ws:
            conn.send(ws.sockets[0].getsockname()[1])
            while len(clients) < n:
                await asyncio.sleep(0.05)
            start = time.time()
            for i, batch in enumerate(batches):
                if offsets is not None:
                    await asyncio.sleep(max(0.0, start + offsets[i] - time.time()))
                stamp = datetime.now(UTC).isoformat()[:26] + "000Z"
                websockets.broadcast(clients, batch.replace("@TS@", stamp))
                await asyncio.sleep(0)
            websockets.broadcast(clients, '{"end": true}')
            while clients and any(c.state.name != "CLOSED" for c in clients):
                await asyncio.sleep(0.05)

    run(main())


async def _baseline(n: int, batches: list[str], offsets: list[float] | None) -> dict[str, float]:
    """The bare broadcast's figures, measured by the same clients."""
    spawn = mp.get_context("spawn")
    server_end, server_child = mp.Pipe()
    server = spawn.Process(target=_bare_server, args=(n, batches, offsets, server_child))
    server.start()
    while not server_end.poll():
        await asyncio.sleep(0.05)
    url = f"ws://127.0.0.1:{server_end.recv()}"
    parent, child = mp.Pipe()
    clients = spawn.Process(target=_clients_process, args=(url, "bare", "", "", n, child))
    clients.start()
    while not parent.poll():
        await asyncio.sleep(0.05)
    parent.recv()  # connected
    while not parent.poll():
        await asyncio.sleep(0.05)
    results = parent.recv()
    clients.join()
    server.join()
    return _summary(results)


async def _compare(api: Any, n: int, lines: int, work: Path, rate: int) -> None:

    ours, streams, raws, times = await _run_one(api, n, lines, work, rate)
    # The very texts the API sent, each line's timestamp left for the bare server to fill in
    # at send time (same length: the latency of the broadcast alone).
    batches = [_TIMESTAMP.sub('"timestamp":"@TS@"', raw) for raw in raws]
    offsets = [t - times[0] for t in times] if rate and times else None
    bare = await _baseline(n, batches, offsets)
    label = f"{n}" + (f" @{rate}/s" if rate else "")
    ratio = ours["lines_per_s"] / bare["lines_per_s"]
    print(
        f"{label:<11} {lines:>6} {lines / max(len(raws), 1):>6.0f} {ours['lines_per_s']:>12,.0f}"
        f" {ours['p50_ms']:>7.1f} {ours['p99_ms']:>7.1f} {streams:>7} | "
        f"{bare['lines_per_s']:>12,.0f} {bare['p50_ms']:>7.1f} {bare['p99_ms']:>7.1f} | "
        f"{ratio:.2f}x",
        flush=True,
    )
    if rate:
        emit(
            Row(
                f"log fan-out p99, {n} subscribers at {rate} lines/s (ms; anchor bare broadcast)",
                ours["p99_ms"],
                "ms",
                bare["p99_ms"],
                ours["p99_ms"] / bare["p99_ms"],
            )
        )
    else:
        goal = n >= 1000
        emit(
            Row(
                f"log fan-out, {n} subscribers (lines/s; anchor bare broadcast)",
                ours["lines_per_s"],
                "lines/s",
                bare["lines_per_s"],
                ratio,
                ">= 0.75x" if goal else "—",
                ratio >= 0.75 if goal else None,
            )
        )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=5000)
    parser.add_argument("--lines-1000", type=int, default=2000)
    parser.add_argument("--subscribers", type=int, nargs="*", default=[1, 100, 1000])
    parser.add_argument(
        "--paced", type=int, nargs="*", default=[1, 100, 1000], help="subscribers, paced"
    )
    parser.add_argument("--rate", type=int, default=1000, help="paced lines a second")
    parser.add_argument("--seconds", type=int, default=5, help="paced duration")
    args = parser.parse_args()

    import logging
    import socket

    import uvicorn

    from app.config import load_settings
    from app.server import create_app
    from app.serving import server_config, tune_gc
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
    # As `walkai-jobs serve` runs it.
    server = uvicorn.Server(server_config(app, host="127.0.0.1", port=port, log_level="warning"))
    tune_gc()
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
            await _compare(api, n, lines, work, 0)
        for n in args.paced:
            await _compare(api, n, args.rate * args.seconds, work, args.rate)
    finally:
        await api.close()
        server.should_exit = True
        await task
        await cluster.stop()


if __name__ == "__main__":
    from app.serving import run

    run(main())
