"""The admission queue through the API on the simulated cluster (2 nodes, one A100 each):
fair share, quotas, preemption on the platform's terms, positions, and one admission per run
with two replicas."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from kubernetes_asyncio import client

from tests.api.operations import CREATE_JOB, job_input
from tests.support.api import Api
from tests.support.graphql import node_uuid
from tests.support.pods import FINISHED, unfinished
from tests.support.servers import serve

RUN = """
query($id: ID!) {
  run(id: $id) {
    id status reason attempts admittedAt pendingReason pendingMessage queuePosition
    ownerQueuePosition timeline { status reason message }
  }
}"""

CANCEL = "mutation($runId: ID!) { cancelRun(runId: $runId) { userErrors { code } } }"

SET_QUOTA = """
mutation($input: SetQuotaInput!) { setQuota(input: $input) { userErrors { field code } } }"""


async def submit(api: Api, gpu: str, seconds: float, priority: str = "MEDIUM") -> str:
    command = ["sh", "-c", f"echo started; sleep {seconds}"]
    payload = (
        await api.gql(CREATE_JOB, {"input": job_input(gpu=gpu, command=command, priority=priority)})
    )["createJob"]
    assert payload["userErrors"] == [], payload["userErrors"]
    run_id: str = payload["run"]["id"]
    return run_id


async def run_of(api: Api, run_id: str) -> dict[str, Any]:
    run: dict[str, Any] = (await api.gql(RUN, {"id": run_id}))["run"]
    return run


async def until(
    api: Api, run_ids: list[str], holds: Callable[[dict[str, dict[str, Any]]], bool]
) -> dict[str, dict[str, Any]]:
    """The runs once `holds(runs by id)`; fails with their last state after a minute."""
    deadline = time.monotonic() + 60
    while True:
        runs = {r: await run_of(api, r) for r in run_ids}
        if holds(runs):
            return runs
        assert time.monotonic() < deadline, f"timed out: {runs}"
        await asyncio.sleep(0.2)


async def cancel_all(api: Api, run_ids: list[str]) -> None:
    for run_id in run_ids:
        await api.gql(CANCEL, {"runId": run_id})


async def gpus_free(api: Api) -> None:
    """Until no pod of an earlier test holds a GPU."""
    assert api.platform.tracker is not None
    pods = api.platform.tracker.pods.cache
    deadline = time.monotonic() + 60
    while any(p["status"].get("phase") not in FINISHED for p in pods.values()):
        assert time.monotonic() < deadline, f"earlier pods still hold GPUs: {unfinished(api)}"
        await asyncio.sleep(0.2)


def admitted(run: dict[str, Any]) -> bool:
    return run["admittedAt"] is not None


async def test_a_full_cluster_admits_two_users_runs_in_fair_share_order(api: Api) -> None:
    await gpus_free(api)
    blockers = [await submit(api, "7g.80gb", 120) for _ in range(2)]
    await until(api, blockers, lambda runs: all(map(admitted, runs.values())))
    alice, bob = await api.as_new_user(), await api.as_new_user()
    a1, a2, a3 = [await submit(alice, "7g.80gb", 120) for _ in range(3)]
    b1, b2 = [await submit(bob, "7g.80gb", 120) for _ in range(2)]
    queued = [a1, a2, a3, b1, b2]
    api = await api.as_new_user("ADMIN")  # sees everyone's runs
    try:
        # While the cluster is full, both users wait in submission order within their share.
        runs = await until(
            api, queued, lambda rs: all(r["queuePosition"] is not None for r in rs.values())
        )
        assert not any(map(admitted, runs.values()))
        assert runs[a1]["pendingReason"] == "WAITING_FOR_CAPACITY"
        assert "7g.80gb" in runs[a1]["pendingMessage"]
        # The GPUs free up: one run each, not Alice's three first.
        await cancel_all(api, blockers)
        runs = await until(api, queued, lambda rs: admitted(rs[a1]) and admitted(rs[b1]))
        assert not admitted(runs[a2]) and not admitted(runs[a3]) and not admitted(runs[b2])
        # The rest in fair-share order: each holds one GPU now, so Alice's second and Bob's
        # second come first (in either order: what each used so far decides), Alice's third
        # last, as she would then hold two.
        runs = await until(
            api, queued, lambda rs: sorted(rs[r]["queuePosition"] or 0 for r in (a2, b2)) == [1, 2]
        )
        assert runs[a3]["queuePosition"] == 3
        assert [runs[r]["ownerQueuePosition"] for r in (a2, a3, b2)] == [1, 2, 1]
        # Positions move as runs ahead finish: Bob's run ends, so Bob (holding nothing now)
        # goes before Alice's two, which move up.
        await bob.gql(CANCEL, {"runId": b1})
        runs = await until(api, queued, lambda rs: admitted(rs[b2]))
        assert not admitted(runs[a2]) and not admitted(runs[a3])
        runs = await until(
            api, queued, lambda rs: [rs[r]["queuePosition"] for r in (a2, a3)] == [1, 2]
        )
        assert [runs[r]["ownerQueuePosition"] for r in (a2, a3)] == [1, 2]
    finally:
        await cancel_all(alice, [a1, a2, a3])
        await cancel_all(bob, [b1, b2])
        await cancel_all(api, blockers)


async def test_a_user_at_quota_waits_while_another_users_run_starts(api: Api) -> None:
    await gpus_free(api)
    admin = await api.as_new_user("ADMIN")
    capped, other = await api.as_new_user(), await api.as_new_user()
    assert capped.user is not None
    from strawberry.relay import to_base64

    quota = {"userId": to_base64("User", str(capped.user.id)), "maxSlices": 1}
    assert (await admin.gql(SET_QUOTA, {"input": quota}))["setQuota"]["userErrors"] == []
    first = await submit(capped, "1g.10gb", 60)
    second = await submit(capped, "1g.10gb", 60)
    third = await submit(other, "1g.10gb", 60)
    api = admin  # sees everyone's runs
    try:
        runs = await until(
            api,
            [first, second, third],
            lambda rs: (
                admitted(rs[first])
                and admitted(rs[third])
                and rs[second]["pendingReason"] == "OVER_QUOTA"
            ),
        )
        assert "1" in runs[second]["pendingMessage"]
        assert runs[second]["status"] == "PENDING" and not admitted(runs[second])
        # Its first run ends: the second one is within quota and starts.
        await capped.gql(CANCEL, {"runId": first})
        await until(api, [second], lambda rs: admitted(rs[second]))
    finally:
        await cancel_all(capped, [first, second])
        await cancel_all(other, [third])


async def test_an_extra_high_run_preempts_exactly_the_cheapest_runs_which_requeue(
    api: Api,
) -> None:
    await gpus_free(api)
    # One GPU runs a MEDIUM 7g.80gb; the other a LOW 4g.40gb and a LOW 3g.40gb.
    medium = await submit(api, "7g.80gb", 30)
    await until(api, [medium], lambda rs: rs[medium]["status"] == "RUNNING")
    lows = [await submit(api, "4g.40gb", 6, "LOW"), await submit(api, "3g.40gb", 6, "LOW")]
    await until(api, lows, lambda rs: all(r["status"] == "RUNNING" for r in rs.values()))
    await asyncio.sleep(1.2)  # past the minimum runtime the tests configure (1 s)
    urgent = await submit(api, "7g.80gb", 1, "EXTRA_HIGH")
    everyone = [medium, *lows, urgent]
    try:
        # The two LOW runs make room together on one GPU: cheaper than the MEDIUM one.
        runs = await until(
            api, everyone, lambda rs: all(r["reason"] == "PREEMPTED" for r in map(rs.get, lows))
        )
        assert runs[medium]["status"] == "RUNNING"
        assert "PREEMPTED" not in [e["reason"] for e in runs[medium]["timeline"]]
        for low in lows:
            assert runs[low]["status"] == "PENDING" and runs[low]["pendingReason"] in (
                "PREEMPTED",
                "WAITING_FOR_CAPACITY",
            )
            assert "EXTRA_HIGH" in runs[low]["timeline"][-1]["message"]
        runs = await until(api, [urgent], lambda rs: rs[urgent]["status"] == "COMPLETED")
        # The preempted runs come back on their own and finish on a second attempt.
        runs = await until(
            api, lows, lambda rs: all(r["status"] == "COMPLETED" for r in rs.values())
        )
        assert [runs[low]["attempts"] for low in lows] == [2, 2]
    finally:
        await cancel_all(api, everyone)


async def test_two_replicas_never_admit_a_run_twice(api: Api) -> None:
    await gpus_free(api)
    async with serve(api.platform.settings, share_database=True) as replica:
        loops = [api.platform.admission, replica.platform.admission]
        assert loops[0] is not None and loops[1] is not None
        before = sum(loop.admissions for loop in loops if loop)
        # Both loops run at once, as two leaders briefly would.
        await replica.platform.admission.set_leading(True)  # type: ignore[union-attr]
        try:
            runs = [await submit(api, "1g.10gb", 1) for _ in range(10)]
            await until(api, runs, lambda rs: all(r["status"] == "COMPLETED" for r in rs.values()))
        finally:
            await replica.platform.admission.set_leading(False)  # type: ignore[union-attr]
        # Each run was admitted by exactly one of them.
        assert sum(loop.admissions for loop in loops if loop) - before == len(runs)
    core = client.CoreV1Api(api.platform.kube)
    for run_id in runs:
        run = await run_of(api, run_id)
        assert run["attempts"] == 1
        # Never RUNNING twice (a second admission after a preemption would be); a run this short
        # may end before its pod is seen running at all.
        assert [e["status"] for e in run["timeline"]].count("RUNNING") <= 1
        # One admission, one pod: a second un-suspend would not make another, but a
        # preemption-and-readmission by the other loop would.
        pods = await core.list_namespaced_pod(
            api.namespace, label_selector=f"walkai.io/run-id={node_uuid(run_id)}"
        )
        assert len(pods.items) == 1
