"""What the measurements share: the API on the simulated cluster, served the way
`walkai-jobs serve` serves it, and the one line each measurement hands to `bench/run.py`.

A measurement prints what it likes for a person, then one `BENCH-RESULT {json}` line per row of
the table; `bench/run.py` collects those lines from each measurement's own process.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import resource
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # the app and the tests' helpers

RESULT_PREFIX = "BENCH-RESULT "


@dataclass
class Row:
    """One line of the table. `ratio` is figure / anchor; `goal` says which way is good."""

    name: str
    figure: float | None
    unit: str
    anchor: float | None = None
    ratio: float | None = None
    goal: str = "—"
    met: bool | None = None
    note: str = ""


def emit(row: Row) -> None:
    """Hand one row to `bench/run.py` (and show it to whoever runs the script alone)."""
    print(RESULT_PREFIX + json.dumps(asdict(row)), flush=True)


def raise_nofile() -> int:
    """Raise this process's open-file limit to its hard limit (thousands of sockets)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def rss_kib(pid: int | None = None) -> int:
    """Resident set size of a process (this one by default), KiB, from /proc."""
    status = Path(f"/proc/{pid or os.getpid()}/status").read_text()
    line = next(x for x in status.splitlines() if x.startswith("VmRSS:"))
    return int(line.split()[1])


def quantile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) of `values`, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


@contextmanager
def postgres_server() -> Iterator[str | None]:
    """A throwaway PostgreSQL (scripts/postgres.sh) for the duration, its URL also exported as
    WALKAI_TEST_POSTGRES_URL; the one already exported if any; None if none can start."""
    if os.environ.get("WALKAI_TEST_POSTGRES_URL"):
        yield os.environ["WALKAI_TEST_POSTGRES_URL"]
        return
    script = ROOT / "scripts" / "postgres.sh"
    started = subprocess.run(["bash", str(script), "start"], capture_output=True, text=True)
    found = dict(
        line.removeprefix("export ").split("=", 1)
        for line in started.stdout.splitlines()
        if line.startswith("export ")
    )
    url, data_dir = found.get("WALKAI_TEST_POSTGRES_URL"), found.get("WALKAI_TEST_POSTGRES_DIR")
    if started.returncode != 0 or not url or not data_dir:
        print(f"PostgreSQL could not start: {started.stderr.strip()[-300:]}", flush=True)
        yield None
        return
    os.environ["WALKAI_TEST_POSTGRES_URL"] = url
    try:
        yield url
    finally:
        del os.environ["WALKAI_TEST_POSTGRES_URL"]
        subprocess.run(["bash", str(script), "stop", data_dir], capture_output=True)


async def postgres_database() -> str | None:
    """A fresh database on the PostgreSQL in WALKAI_TEST_POSTGRES_URL, or None without one."""
    base = os.environ.get("WALKAI_TEST_POSTGRES_URL")
    if not base:
        return None
    import asyncpg

    name = f"bench_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(base.replace("postgres://", "postgresql://", 1))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return base.rsplit("/", 1)[0] + f"/{name}"


@asynccontextmanager
async def serve_api(
    work: Path,
    database_url: str | None = None,
    *,
    cluster: Any = None,
    routes: Sequence[Any] = (),
    **settings: Any,
) -> AsyncIterator[Any]:
    """The API under uvicorn as `walkai-jobs serve` runs it, on a simulated cluster (started
    here unless given), with a member's token: a `tests.support.api.Api`. `routes` are served
    by the same app (an anchor behind the same middleware, on the same database)."""
    import uvicorn

    from app.config import load_settings
    from app.server import create_app
    from app.serving import server_config, tune_gc
    from app.sim.cluster import SimCluster
    from tests.support.api import Api, new_account
    from tests.support.graphql import GraphQLHTTP

    logging.disable(logging.WARNING)
    own_cluster = cluster is None
    if own_cluster:
        cluster = SimCluster(port=0, config_path=None, workdir=work / "sim")
        await cluster.start()
    cluster.write_kubeconfig(work / "kubeconfig")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    options: dict[str, Any] = {
        "public_url": f"http://127.0.0.1:{port}",
        "database_url": database_url or f"sqlite://{work / 'db.sqlite'}",
        "data_dir": work / "data",
        "kubeconfig": work / "kubeconfig",
        "namespace": "bench",
        "create_namespace": True,
        "output_volume": "emptyDir",
        "storage": {"backend": "local", "local_root": work / "objects"},
    }
    app = create_app(load_settings(**(options | settings)))
    app.router.routes[:0] = routes
    server = uvicorn.Server(
        server_config(app, host="127.0.0.1", port=port, log_level="warning", backlog=16384)
    )
    tune_gc()
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    platform = app.state.platform
    await platform.tracker.wait_synced()
    user, token = await new_account("MEMBER", f"bench-{uuid.uuid4().hex[:6]}@example.com")
    api = Api(
        backend="postgres" if database_url and database_url.startswith("postgres") else "sqlite",
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
    try:
        yield api
    finally:
        await api.close()
        server.should_exit = True
        await task
        if own_cluster:
            await cluster.stop()
