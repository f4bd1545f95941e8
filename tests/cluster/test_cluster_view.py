"""The capacity view through the API: slices as runs are admitted, the queue, who sees which run,
and the live feed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from strawberry.relay import to_base64

from app.db.models import Run
from app.domain.status import UNFINISHED
from tests.api.operations import CREATE_JOB, job_input
from tests.support.api import Api
from tests.support.graphql import Subscription
from tests.support.pods import unfinished

VIEW = """
  nodes {
    name
    gpus {
      index model
      computeSlices { total used free }
      memorySlices { total used free }
      partitions { profile computeSlices status priority run { id status } }
      cuttableProfiles
    }
  }
  totals { gpus computeSlices { total used free } memorySlices { total used free } }
  queuedDemand { profile runs computeSlices }
  runningByPriority { priority runs computeSlices }
"""
CLUSTER = f"query {{ cluster {{ {VIEW} }} }}"
CLUSTER_CHANGED = f"subscription {{ clusterChanged {{ {VIEW} }} }}"
CANCEL = "mutation($runId: ID!) { cancelRun(runId: $runId) { userErrors { code } } }"

ALL = ["1g.10gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb"]
MEMORY = {1: 1, 2: 2, 3: 4, 4: 4, 7: 8}  # compute slices -> memory slices (A100 geometry)
LONG = ["sh", "-c", "sleep 300"]
TIMEOUT = 90

View = dict[str, Any]


async def cluster(api: Api) -> View:
    view: View = (await api.gql(CLUSTER))["cluster"]
    return view


async def wait_view(api: Api, holds: Callable[[View], bool], timeout: float = TIMEOUT) -> View:
    """The view once `holds(view)`; fails with the last one after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        view = await cluster(api)
        if holds(view):
            return view
        assert time.monotonic() < deadline, (
            f"timed out; the cluster is {view}; pods not ended: {unfinished(api)}"
        )
        await asyncio.sleep(0.2)


def partitions(view: View) -> list[dict[str, Any]]:
    return [p for node in view["nodes"] for gpu in node["gpus"] for p in gpu["partitions"]]


def gpus(view: View) -> list[dict[str, Any]]:
    return [gpu for node in view["nodes"] for gpu in node["gpus"]]


async def quiet(api: Api) -> View:
    """The view once the cluster is idle: an admin cancels what earlier tests left running
    (through the API, like any admin), then it waits for their slices to be freed."""
    admin = await api.as_new_user("ADMIN")
    for run_id in await Run.filter(status__in=list(UNFINISHED)).values_list("id", flat=True):
        await cancel(admin, to_base64("Run", str(run_id)))
    return await wait_view(api, idle)


def idle(view: View) -> bool:
    return not partitions(view) and not view["queuedDemand"]


def mine_in(partition: dict[str, Any], run_id: str) -> bool:
    """Whether a partition is the run's."""
    return bool(partition["run"]) and partition["run"]["id"] == run_id


def holding(view: View, run_id: str) -> dict[str, Any] | None:
    """The GPU where `run_id` holds an in-use partition."""
    for gpu in gpus(view):
        for p in gpu["partitions"]:
            if p["run"] and p["run"]["id"] == run_id and p["status"] == "IN_USE":
                return gpu
    return None


def assert_adds_up(view: View) -> None:
    """Every GPU's slices are its partitions'; the totals are the GPUs'."""
    for gpu in gpus(view):
        compute = sum(p["computeSlices"] for p in gpu["partitions"])
        memory = sum(MEMORY[p["computeSlices"]] for p in gpu["partitions"])
        assert gpu["computeSlices"] == {"total": 7, "used": compute, "free": 7 - compute}
        assert gpu["memorySlices"] == {"total": 8, "used": memory, "free": 8 - memory}
    used = sum(g["computeSlices"]["used"] for g in gpus(view))
    total = 7 * len(gpus(view))
    assert view["totals"]["gpus"] == len(gpus(view))
    assert view["totals"]["computeSlices"] == {"total": total, "used": used, "free": total - used}


async def submit(api: Api, gpu: str) -> str:
    payload = (await api.gql(CREATE_JOB, {"input": job_input(gpu=gpu, command=LONG)}))["createJob"]
    assert payload["userErrors"] == [], payload["userErrors"]
    run_id: str = payload["run"]["id"]
    return run_id


async def cancel(api: Api, *run_ids: str) -> None:
    for run_id in run_ids:
        result = await api.gql(CANCEL, {"runId": run_id})
        assert result["cancelRun"]["userErrors"] in ([], [{"code": "ALREADY_FINISHED"}])


async def gone(api: Api, *run_ids: str) -> None:
    """Wait until the runs hold no slice (their pods are gone), for the tests after this one."""

    def freed(view: View) -> bool:
        ids = {p["run"]["id"] for p in partitions(view) if p["run"]}
        return not ids & set(run_ids)

    await wait_view(api, freed)


async def test_the_view_matches_what_runs_slice_by_slice(api: Api) -> None:
    owner = await api.as_new_user()
    before = await quiet(owner)
    assert [len(node["gpus"]) for node in before["nodes"]] == [1, 1]
    assert all(g["model"] == "A100-80GB" and g["cuttableProfiles"] == ALL for g in gpus(before))
    assert_adds_up(before)
    assert before["totals"]["computeSlices"] == {"total": 14, "used": 0, "free": 14}

    big, small = await submit(owner, "3g.40gb"), await submit(owner, "2g.20gb")
    try:
        view = await wait_view(owner, lambda v: bool(holding(v, big) and holding(v, small)))
        assert_adds_up(view)
        # Bin packing: both on the first GPU, the second one left whole.
        first, second = gpus(view)
        assert holding(view, big) == holding(view, small) == first
        assert sorted((p["profile"], p["priority"], p["status"]) for p in first["partitions"]) == [
            ("2g.20gb", "MEDIUM", "IN_USE"),
            ("3g.40gb", "MEDIUM", "IN_USE"),
        ]
        assert first["computeSlices"] == {"total": 7, "used": 5, "free": 2}
        assert first["memorySlices"] == {"total": 8, "used": 6, "free": 2}
        assert first["cuttableProfiles"] == ["1g.10gb", "2g.20gb"]
        assert second["partitions"] == [] and second["cuttableProfiles"] == ALL
        assert view["totals"]["computeSlices"] == {"total": 14, "used": 5, "free": 9}
        assert view["totals"]["memorySlices"] == {"total": 16, "used": 6, "free": 10}
        by_priority = {row["priority"]: row for row in view["runningByPriority"]}
        assert list(by_priority) == ["EXTRA_HIGH", "HIGH", "MEDIUM", "LOW"]
        assert by_priority["MEDIUM"] == {"priority": "MEDIUM", "runs": 2, "computeSlices": 5}
        assert by_priority["HIGH"]["runs"] == 0
        assert view["queuedDemand"] == []
    finally:
        await cancel(owner, big, small)
    ended = await cluster(owner)
    assert holding(ended, big) is None and holding(ended, small) is None
    assert_adds_up(ended)
    await gone(owner, big, small)


async def test_queued_demand_and_who_sees_which_run(api: Api) -> None:
    owner = await api.as_new_user()
    other = await api.as_new_user()
    admin = await api.as_new_user("ADMIN")
    await quiet(owner)
    running = [await submit(owner, "7g.80gb"), await submit(owner, "7g.80gb")]
    waiting: list[str] = []
    try:
        await wait_view(owner, lambda v: all(holding(v, r) for r in running))
        waiting.append(await submit(owner, "7g.80gb"))
        view = await wait_view(owner, lambda v: bool(v["queuedDemand"]))
        assert view["queuedDemand"] == [{"profile": "7g.80gb", "runs": 1, "computeSlices": 7}]
        assert view["totals"]["computeSlices"] == {"total": 14, "used": 14, "free": 0}
        assert all(g["cuttableProfiles"] == [] for g in gpus(view))
        assert_adds_up(view)

        # Another member sees every number and partition, but not whose runs they are.
        seen = await cluster(other)
        assert seen["totals"] == view["totals"]
        assert seen["queuedDemand"] == view["queuedDemand"]
        assert seen["runningByPriority"] == view["runningByPriority"]
        shown = partitions(seen)
        assert [(p["profile"], p["status"], p["priority"]) for p in shown] == [
            ("7g.80gb", "IN_USE", "MEDIUM")
        ] * 2
        assert all(p["run"] is None for p in shown)
        # The owner and an admin do.
        assert sorted(p["run"]["id"] for p in partitions(view)) == sorted(running)
        as_admin = await cluster(admin)
        assert sorted(p["run"]["id"] for p in partitions(as_admin)) == sorted(running)
        assert all(p["run"]["status"] in ("PENDING", "RUNNING") for p in partitions(as_admin))
    finally:
        # The queued run first, so it is never admitted into the slices the others free.
        await cancel(owner, *waiting, *running)
    await gone(owner, *running)
    assert (await cluster(owner))["queuedDemand"] == []


async def next_view(sub: Subscription, holds: Callable[[View], bool]) -> View:
    """The first view the subscription sends for which `holds(view)`."""
    while True:
        event = await asyncio.wait_for(sub.next(), TIMEOUT)
        assert event is not None, "clusterChanged ended"
        view: View = event["clusterChanged"]
        if holds(view):
            return view


async def test_cluster_changed_sends_a_view_when_a_run_is_admitted_and_when_it_ends(
    api: Api,
) -> None:
    owner = await api.as_new_user()
    await quiet(owner)
    async with owner.subscribe(CLUSTER_CHANGED) as sub:
        first = await next_view(sub, lambda _: True)
        assert first == await cluster(owner)
        run_id = await submit(owner, "1g.10gb")
        try:
            admitted = await next_view(sub, lambda v: holding(v, run_id) is not None)
            assert_adds_up(admitted)
            assert admitted["totals"]["computeSlices"]["used"] == 1
            mine = next(p for p in partitions(admitted) if p["run"])
            assert mine["profile"] == "1g.10gb" and mine["run"]["id"] == run_id
        finally:
            await cancel(owner, run_id)
        ended = await next_view(sub, lambda v: holding(v, run_id) is None)
        assert_adds_up(ended)
        assert all(p["status"] == "FREEING" for p in partitions(ended) if mine_in(p, run_id))
        # Once its pod is gone, the slice is free again (other tests' runs may come and go).
        freed = await wait_view(owner, lambda v: not any(mine_in(p, run_id) for p in partitions(v)))
        assert_adds_up(freed)
