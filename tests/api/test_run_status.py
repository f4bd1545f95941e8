"""A run followed live: the runStatus subscription over graphql-transport-ws, end to end."""

from __future__ import annotations

import asyncio
from typing import Any

from kubernetes_asyncio import client

from tests.api.operations import CREATE_JOB, RUN, RUN_STATUS, job_input
from tests.support.api import Api
from tests.support.graphql import node_uuid

WAITING_RUN = """
subscription($runId: ID!) {
  runStatus(runId: $runId) {
    status reason pendingReason pendingMessage queuePosition ownerQueuePosition admittedAt
  }
}"""

CANCEL_RUN = "mutation($runId: ID!) { cancelRun(runId: $runId) { userErrors { code } } }"


async def create(api: Api, **overrides: object) -> dict[str, Any]:
    payload = (await api.gql(CREATE_JOB, {"input": job_input(**overrides)}))["createJob"]
    assert payload["userErrors"] == [], payload["userErrors"]
    run: dict[str, Any] = payload["run"]
    return run


def statuses(events: list[dict[str, Any]]) -> list[str]:
    """The distinct statuses in order (reason-only updates repeat a status)."""
    seen: list[str] = []
    for event in events:
        status = event["runStatus"]["status"]
        if not seen or seen[-1] != status:
            seen.append(status)
    return seen


async def follow(api: Api, run_id: str) -> list[dict[str, Any]]:
    async with api.subscribe(RUN_STATUS, {"runId": run_id}) as sub:
        return await asyncio.wait_for(sub.collect(), timeout=60)


async def test_a_run_goes_pending_running_completed(api: Api) -> None:
    run = await create(api, command=["sh", "-c", "echo hi; sleep 1"])
    events = await follow(api, run["id"])
    # The subscription starts from the run as it is (a fast pod may be running already), then
    # sends every change; the timeline keeps every transition.
    seen = statuses(events)
    assert seen[-2:] == ["RUNNING", "COMPLETED"]
    assert seen == [s for s in ["SUBMITTED", "PENDING", "RUNNING", "COMPLETED"] if s in seen]
    timeline = (await api.gql(RUN, {"id": run["id"]}))["run"]["timeline"]
    transitions = statuses([{"runStatus": e} for e in timeline])
    assert transitions[-3:] == ["PENDING", "RUNNING", "COMPLETED"], transitions
    versions = [e["runStatus"]["statusVersion"] for e in events]
    assert versions == sorted(set(versions)), "versions strictly increase"
    last = events[-1]["runStatus"]
    assert last["exitCode"] == 0 and last["startedAt"] and last["finishedAt"]
    assert last["attempts"] == 1
    # The query agrees with the stream, and the timeline recorded every step.
    fetched = (await api.gql(RUN, {"id": run["id"]}))["run"]
    assert fetched["status"] == "COMPLETED" and fetched["statusVersion"] == last["statusVersion"]
    timeline = [e["status"] for e in fetched["timeline"]]
    assert timeline[0] == "SUBMITTED" and timeline[-1] == "COMPLETED" and "RUNNING" in timeline


async def test_a_failing_command_fails_with_its_exit_code(api: Api) -> None:
    run = await create(api, command=["sh", "-c", "echo bye; exit 3"])
    events = await follow(api, run["id"])
    last = events[-1]["runStatus"]
    assert last["status"] == "FAILED"
    assert last["exitCode"] == 3
    assert last["reason"] == "Error"
    assert "3" in (last["message"] or "")


async def test_a_subscriber_joining_after_the_end_gets_the_final_state(api: Api) -> None:
    run = await create(api, command=["true"])
    await follow(api, run["id"])
    events = await follow(api, run["id"])
    assert [e["runStatus"]["status"] for e in events] == ["COMPLETED"]


async def test_a_run_that_does_not_fit_waits_in_the_queue_saying_why(api: Api) -> None:
    # Both simulated GPUs are taken by two 7g.80gb runs; a third cannot fit anywhere.
    blockers = [
        await create(api, gpu="7g.80gb", command=["sh", "-c", "sleep 30"], priority="EXTRA_HIGH")
        for _ in range(2)
    ]
    waiting = await create(api, gpu="7g.80gb", command=["true"], priority="LOW")
    query = WAITING_RUN
    async with api.subscribe(query, {"runId": waiting["id"]}) as sub:
        while True:
            event = await asyncio.wait_for(sub.next(), timeout=30)
            assert event is not None, "the subscription ended"
            run = event["runStatus"]
            if run["pendingReason"] == "WAITING_FOR_CAPACITY":
                break
    assert run["status"] == "PENDING" and run["admittedAt"] is None
    assert run["queuePosition"] == 1 and run["ownerQueuePosition"] == 1
    assert "7g.80gb" in run["pendingMessage"], run["pendingMessage"]
    # Its Kubernetes Job is held (suspended) by the platform: no pod competes for a GPU.
    job = await client.BatchV1Api(api.platform.kube).read_namespaced_job(
        f"run-{node_uuid(waiting['id']).replace('-', '')}", api.namespace
    )
    assert job.spec.suspend is True
    # Free the GPUs for the tests that follow.
    for r in [waiting, *blockers]:
        await api.gql(CANCEL_RUN, {"runId": r["id"]})
