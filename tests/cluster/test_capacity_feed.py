"""The capacity feed: one reader for every subscriber, a new view only when it differs."""

from __future__ import annotations

import asyncio
from typing import Any

from app.domain.admission import Gpu
from app.events.hub import Hub
from app.services.capacity import (
    CapacityFeed,
    ClusterState,
    PlacedRun,
    Priority,
    build_view,
)
from app.services.runs import ALL_RUNS_TOPIC

GPU = Gpu("node-a", 0, "A100-80GB", frozenset({"1g.10gb", "7g.80gb"}))


class Cluster:
    """What the fake read returns: the runs placed on one GPU."""

    def __init__(self) -> None:
        self.placed: list[PlacedRun] = []

    async def read(self) -> ClusterState:
        return ClusterState(build_view([GPU], list(self.placed), []), {})

    def admit(self, run_id: str) -> None:
        self.placed.append(PlacedRun(run_id, "1g.10gb", Priority.MEDIUM, ("node-a", 0)))


def used(state: ClusterState) -> int:
    return state.view.totals.compute.used


async def test_every_listener_gets_each_new_view_from_one_read() -> None:
    hub: Hub[Any] = Hub()
    cluster, feed = Cluster(), CapacityFeed(min_gap=0, poll=60)
    listeners = [feed.states(hub, cluster.read) for _ in range(5)]
    firsts = await asyncio.wait_for(asyncio.gather(*(anext(s) for s in listeners)), 10)
    assert [used(s) for s in firsts] == [0] * 5
    assert feed.reads == 1

    cluster.admit("a")
    hub.publish(ALL_RUNS_TOPIC, object())
    seconds = await asyncio.wait_for(asyncio.gather(*(anext(s) for s in listeners)), 10)
    assert [used(s) for s in seconds] == [1] * 5
    assert feed.reads == 2

    # A change that leaves the view as it was sends nothing: the next view is the next change.
    hub.publish(ALL_RUNS_TOPIC, object())
    cluster.admit("b")
    hub.publish(ALL_RUNS_TOPIC, object())
    thirds = await asyncio.wait_for(asyncio.gather(*(anext(s) for s in listeners)), 10)
    assert [used(s) for s in thirds] == [2] * 5
    assert feed.reads <= 4

    # A late listener starts from the latest view; the reader stops with the last listener.
    late = feed.states(hub, cluster.read)
    assert used(await asyncio.wait_for(anext(late), 10)) == 2
    for listener in [*listeners, late]:
        await listener.aclose()
    assert hub.subscriber_count(ALL_RUNS_TOPIC) == 0


async def test_a_failed_read_is_retried_on_the_next_change() -> None:
    hub: Hub[Any] = Hub()
    cluster, feed = Cluster(), CapacityFeed(min_gap=0, poll=60)
    calls = 0

    async def flaky() -> ClusterState:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("database away")
        return await cluster.read()

    states = feed.states(hub, flaky)
    pending = asyncio.ensure_future(anext(states))
    while calls == 0:
        await asyncio.sleep(0)
    hub.publish(ALL_RUNS_TOPIC, object())
    assert used(await asyncio.wait_for(pending, 10)) == 0
    await states.aclose()
