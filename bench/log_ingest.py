"""Log ingest: 100 pods printing at once, lines/s stored on PostgreSQL, with 10 `runLogs`
subscribers on each run.

    .venv/bin/python bench/log_ingest.py [--pods 100] [--lines 2000] [--subscribers 10]

A simulated cluster big enough to run every pod at once (8 nodes of two A100-80GB); each pod
waits for a flag file, then prints `--lines` lines as fast as it can. Every subscription is set
up on the server before the flag is touched. Stored: from the flag to the moment the database
holds every line (counted every 50 ms); delivered: line deliveries summed over subscribers
over the flag to the last line received. The anchor, in the same run on the same PostgreSQL:
the very rows read back, inserted again by asyncpg `executemany` in batches of 1,000 rows,
each batch a transaction, into a table made `LIKE log_line INCLUDING ALL` (same indexes).
A throwaway PostgreSQL (scripts/postgres.sh) unless WALKAI_TEST_POSTGRES_URL names one; the
measurement is skipped, with a line saying so, when none can start.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import tempfile
import time
from pathlib import Path
from typing import Any

from harness import Row, emit, postgres_database, postgres_server, raise_nofile, serve_api
from logs_fanout import _client, _printer

NODES = """
nodes:
""" + "".join(
    f"""  - name: gpu-{i}
    cpu: "256"
    memory: 1024Gi
    pods: 110
    gpus:
      - model: A100-80GB
        count: 2
"""
    for i in range(8)
)


def _clients(url: str, token: str, run_ids: list[str], per_run: int, conn: Any) -> None:
    """`per_run` counting clients on each run; "ready", then (lines, last receipt) of each."""
    from app.serving import run

    raise_nofile()

    async def main() -> None:
        out: list[Any] = []
        tasks = []
        for run_id in run_ids:
            tasks += [
                asyncio.create_task(_client(url, "graphql", run_id, token, False, out))
                for _ in range(per_run)
            ]
            await asyncio.sleep(0.02)
        while out.count("ready") < len(tasks):
            await asyncio.sleep(0.05)
        conn.send("ready")
        await asyncio.gather(*tasks)
        conn.send([(o[0], o[2]) for o in out if o != "ready"])

    run(main())


async def _wait(conn: Any) -> Any:
    while not conn.poll():
        await asyncio.sleep(0.05)
    return conn.recv()


async def anchor(url: str, total: int) -> float:
    """Lines/s for executemany of the stored rows again, 1,000 rows a transaction."""
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
    try:
        rows = await conn.fetch(
            "SELECT run_id, seq, container, attempt, ts, text FROM log_line"
            " WHERE container = 'main' ORDER BY run_id, seq"
        )
        assert len(rows) == total, (len(rows), total)
        await conn.execute("CREATE TABLE bench_log_line (LIKE log_line INCLUDING ALL)")
        insert = (
            "INSERT INTO bench_log_line (run_id, seq, container, attempt, ts, text)"
            " VALUES ($1, $2, $3, $4, $5, $6)"
        )
        started = time.perf_counter()
        for i in range(0, len(rows), 1000):
            async with conn.transaction():
                await conn.executemany(insert, [tuple(r) for r in rows[i : i + 1000]])
        return len(rows) / (time.perf_counter() - started)
    finally:
        await conn.close()


async def measure(args: argparse.Namespace, url: str) -> None:
    from tortoise import connections

    from app.services.logs import log_topic
    from app.sim.cluster import SimCluster
    from tests.api.operations import CREATE_JOB, job_input
    from tests.support.graphql import node_uuid

    raise_nofile()
    work = Path(tempfile.mkdtemp(prefix="bench-log-ingest-"))
    (work / "nodes.yaml").write_text(NODES)
    cluster = SimCluster(port=0, config_path=work / "nodes.yaml", workdir=work / "sim")
    await cluster.start()
    flag = work / "go"
    total = args.pods * args.lines
    try:
        async with serve_api(work, url, cluster=cluster) as api:
            script = _printer(args.lines, flag, 0)
            run_ids = []
            for _ in range(args.pods):
                created = await api.gql(
                    CREATE_JOB, {"input": job_input(command=["python", "-c", script])}
                )
                run_ids.append(created["createJob"]["run"]["id"])
            pods = api.platform.tracker.pods.cache
            while sum((p.get("status") or {}).get("phase") == "Running" for p in pods.values()) < (
                args.pods
            ):
                await asyncio.sleep(0.1)
            print(f"{args.pods} pods running", flush=True)
            parent, child = mp.Pipe()
            proc = mp.get_context("spawn").Process(
                target=_clients, args=(api.ws_url, api.token, run_ids, args.subscribers, child)
            )
            proc.start()
            await _wait(parent)
            hub = api.platform.logs.hub
            topics = [log_topic(node_uuid(r)) for r in run_ids]
            while any(hub.subscriber_count(t, waiting=True) < args.subscribers for t in topics):
                await asyncio.sleep(0.05)
            db = connections.get("default")
            count = "SELECT count(*) AS n FROM log_line WHERE container = 'main'"
            started = time.time()
            flag.touch()
            stored_at = None
            while stored_at is None:
                await asyncio.sleep(0.05)
                if (await db.execute_query_dict(count))[0]["n"] >= total:
                    stored_at = time.time()
            print(f"{total:,} lines stored in {stored_at - started:.2f} s", flush=True)
            results = await _wait(parent)
            proc.join()
            delivered = sum(r[0] for r in results)
            last = max(r[1] for r in results)
            stored = total / (stored_at - started)
            fanout = delivered / (last - started)
            print(f"{delivered:,} deliveries of {total * args.subscribers:,} expected, "
                  f"last {last - started:.2f} s after the flag", flush=True)  # fmt: skip
        bulk = await anchor(url, total)
    finally:
        await cluster.stop()
    ratio = stored / bulk
    emit(
        Row(
            f"log ingest, {args.pods} pods at once on PostgreSQL (lines/s stored; "
            "anchor executemany)",
            stored,
            "lines/s",
            bulk,
            ratio,
            ">= 0.5x",
            ratio >= 0.5,
        )
    )
    emit(
        Row(
            f"  and to {args.subscribers} subscribers each (line deliveries/s)",
            fanout,
            "lines/s",
            note=f"{delivered:,} of {total * args.subscribers:,} delivered",
        )
    )


async def main(args: argparse.Namespace) -> None:
    url = await postgres_database()
    assert url is not None
    await measure(args, url)


if __name__ == "__main__":
    from app.serving import run

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=100)
    parser.add_argument("--lines", type=int, default=2000)
    parser.add_argument("--subscribers", type=int, default=10)
    args = parser.parse_args()
    with postgres_server() as server:
        if server is None:
            print("log ingest: skipped, PostgreSQL could not start", flush=True)
            emit(Row("log ingest on PostgreSQL", None, "lines/s", note="skipped: no PostgreSQL"))
        else:
            run(main(args))
