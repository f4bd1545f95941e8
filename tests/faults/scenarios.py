"""The fault scenarios: what breaks while runs print and write, at a size.

Each scenario submits `size.runs` runs (a `Workload`), waits until they print, injects
`size.faults` faults spread over their printing, and returns the `Report` of what clients then
find. `tests/faults/` plays them at `suite` sizes; `bench/faults.py` at `bench` sizes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from tests.faults.report import Report, Size
from tests.faults.workload import Workload
from tests.support.api import Api

Inject = Callable[[Api, Workload], Awaitable[int]]


@dataclass(frozen=True)
class Scenario:
    """A named fault, how to play it, and its sizes in the suite and in the benchmark."""

    name: str
    what: str
    play: Callable[[Api, Size], Awaitable[Report]]
    suite: Size
    bench: Size


async def play(api: Api, name: str, size: Size, inject: Inject) -> Report:
    """Submit the runs, inject the faults once they print, and check what clients find."""
    work = Workload(api, size, name)
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
]
