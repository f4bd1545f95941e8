"""The fault scenarios: what breaks while runs print and write, at a size.

Each scenario submits `size.runs` runs (a `Workload`), waits until they print, injects
`size.faults` faults spread over their printing, and returns the `Report` of what clients then
find. `tests/faults/` plays them at `suite` sizes; `bench/faults.py` at `bench` sizes.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.faults.apiprocess import ApiProcess, api_process, client_of, lease_holder_pid
from tests.faults.balancer import balancer
from tests.faults.report import Report, Size
from tests.faults.workload import Workload
from tests.support.api import Api
from tests.support.storage_stack import s3_api

Inject = Callable[[Api, Workload], Awaitable[int]]


@dataclass(frozen=True)
class Scenario:
    """A named fault, how to play it, and its sizes in the suite and in the benchmark."""

    name: str
    what: str
    play: Callable[[Api, Size], Awaitable[Report]]
    suite: Size
    bench: Size
    # False: a known platform bug makes it fail; played by bench/faults.py only (see `why`).
    in_suite: bool = True
    why: str = ""


async def play(
    api: Api, name: str, size: Size, inject: Inject, fallback: Sequence[Api] = ()
) -> Report:
    """Submit the runs, inject the faults once they print, and check what clients find."""
    work = Workload(api, size, name, fallback=fallback)
    await work.start()
    try:
        await work.printing()
        work.report.faults = await inject(api, work)
    finally:
        report = await work.finish()
    return report


def spacing(size: Size) -> float:
    """Seconds between two faults, so they spread over the time the runs print."""
    return size.lines * size.pause / (size.faults + 1)


async def drop_watches(api: Api, work: Workload) -> int:
    """End every open watch, again and again: informers resume from their last version."""
    for _ in range(work.size.faults):
        api.cluster.faults.drop_watches()
        await asyncio.sleep(spacing(work.size))
    return work.size.faults


async def compact(api: Api, work: Workload) -> int:
    """Forget the watch history and end every watch: each resume gets 410 Gone and relists."""
    for _ in range(work.size.faults):
        api.cluster.faults.compact()
        api.cluster.faults.drop_watches()
        await asyncio.sleep(spacing(work.size))
    return work.size.faults


async def errors_and_latency(api: Api, work: Workload) -> int:
    """Bursts of 500 and 503 answers, each followed by slow answers, from the Kubernetes API."""
    faults = api.cluster.faults
    try:
        for n in range(work.size.faults):
            faults.fail_next(3, 500 if n % 2 else 503)
            faults.delay_next(3, 0.2)
            await asyncio.sleep(spacing(work.size))
    finally:
        faults.clear()
    return work.size.faults


async def restart_cluster(api: Api, work: Workload) -> int:
    """Stop the Kubernetes API server and start it again (every open stream ends, and
    requests meanwhile are refused); its objects and the pods live on."""
    for _ in range(work.size.faults):
        await api.cluster.restart(downtime=0.5)
        await asyncio.sleep(spacing(work.size))
    return work.size.faults


async def kill_api(api: Api, size: Size) -> Report:
    """The API, a process of its own, killed with SIGKILL mid-run and started again on the same
    database; the cluster lives on. The new process waits for the dead one's Lease to expire
    before it follows logs again (from where they were stored) and admits runs."""
    with tempfile.TemporaryDirectory(prefix="walkai-faults-") as work:
        namespace = f"{api.namespace}-killed-{uuid.uuid4().hex[:6]}"
        async with api_process(api, Path(work), namespace) as process:

            async def inject(_: Api, work: Workload) -> int:
                for _ in range(size.faults):
                    await asyncio.sleep(spacing(size))
                    await process.kill()
                    await process.start()
                return process.kills

            client = process.client(api)
            try:
                return await play(client, "api-killed", size, inject)
            finally:
                await client.close()


LOGS_LEASE = "walkai-jobs-logs"


async def kill_leader(api: Api, size: Size) -> Report:
    """Two replicas (processes) behind a load balancer; the one holding the Lease (following
    logs, admitting runs) killed with SIGKILL mid-run. The other takes over once the Lease
    expires; clients and sidecars reach it through the balancer."""
    with tempfile.TemporaryDirectory(prefix="walkai-faults-") as folder:
        work, namespace = Path(folder), f"{api.namespace}-replicas-{uuid.uuid4().hex[:6]}"
        async with balancer([]) as lb:
            url, secret = f"http://127.0.0.1:{lb.port}", uuid.uuid4().hex
            replicas = [
                ApiProcess(api, namespace, work, name=name, secret=secret, public_url=url)
                for name in ("a", "b")
            ]
            lb.backends = [replica.port for replica in replicas]
            client = client_of(api, url)
            try:
                await asyncio.gather(*(replica.start() for replica in replicas))

                async def inject(_: Api, work: Workload) -> int:
                    await asyncio.sleep(spacing(size))
                    while True:
                        pid = await lease_holder_pid(api.cluster.url, namespace, LOGS_LEASE)
                        leader = next((r for r in replicas if r.pid == pid), None)
                        if leader is not None:
                            break
                        assert time.monotonic() < work.deadline, "no replica holds the Lease"
                        await asyncio.sleep(0.1)
                    await leader.kill()
                    return 1

                return await play(client, "leader-killed", size, inject)
            finally:
                await client.close()
                for replica in replicas:
                    await replica.stop()


async def store_down(api: Api, size: Size) -> Report:
    """The API with its objects on S3 (moto's server), which stops while the runs print and
    comes back on the same port after they ended: the sidecars upload into the outage."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    port = server.get_host_and_port()[1]
    try:
        with tempfile.TemporaryDirectory(prefix="walkai-faults-") as folder:
            async with s3_api(api, f"http://127.0.0.1:{port}", Path(folder)) as stack:

                async def inject(_: Api, work: Workload) -> int:
                    nonlocal server
                    for _ in range(size.faults):
                        await asyncio.to_thread(server.stop)
                        # Down until every run's main container ended, and a while after.
                        await asyncio.sleep(size.lines * size.pause + 2)
                        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
                        await asyncio.to_thread(server.start)
                    return size.faults

                return await play(stack, "store-down", size, inject)
    finally:
        server.stop()


def _injecting(name: str, inject: Inject) -> Callable[[Api, Size], Awaitable[Report]]:
    async def run(api: Api, size: Size) -> Report:
        return await play(api, name, size, inject)

    return run


SCENARIOS: list[Scenario] = [
    Scenario(
        "watches-dropped",
        "every watch dropped, again and again, while runs print",
        _injecting("watches-dropped", drop_watches),
        suite=Size(runs=3, lines=150, faults=10),
        bench=Size(runs=10, lines=1000, faults=100),
    ),
    Scenario(
        "history-compacted",
        "history compacted and watches dropped: every resume gets 410 Gone",
        _injecting("history-compacted", compact),
        suite=Size(runs=3, lines=150, faults=5),
        bench=Size(runs=10, lines=1000, faults=50),
    ),
    Scenario(
        "api-errors",
        "bursts of 500/503 and latency from the Kubernetes API",
        _injecting("api-errors", errors_and_latency),
        suite=Size(runs=3, lines=150, faults=5),
        bench=Size(runs=10, lines=1000, faults=50),
    ),
    Scenario(
        "cluster-restarted",
        "the Kubernetes API server stopped and started",
        _injecting("cluster-restarted", restart_cluster),
        suite=Size(runs=3, lines=150, faults=2),
        bench=Size(runs=10, lines=1000, faults=10),
    ),
    Scenario(
        "api-killed",
        "the API process killed with SIGKILL mid-run and restarted on the same database",
        kill_api,
        suite=Size(runs=2, lines=150, faults=1),
        bench=Size(runs=10, lines=1000, faults=3),
    ),
    Scenario(
        "leader-killed",
        "the Lease-holding replica of two killed with SIGKILL mid-run",
        kill_leader,
        suite=Size(runs=2, lines=150, faults=1),
        bench=Size(runs=10, lines=1000, faults=1),
    ),
    Scenario(
        "store-down",
        "the object store (S3) unavailable while the runs' outputs are uploaded",
        store_down,
        suite=Size(runs=2, lines=150, faults=1),
        bench=Size(runs=10, lines=1000, faults=1),
    ),
]
