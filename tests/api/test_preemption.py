"""Priorities on a full cluster: a higher-priority run preempts a lower one, which is requeued."""

from __future__ import annotations

import asyncio
from typing import Any

from kubernetes_asyncio import client

from tests.api.operations import CREATE_JOB, RUN, RUN_STATUS, job_input
from tests.logs.conftest import all_pages
from tests.support.api import Api
from tests.support.graphql import node_uuid


async def create(api: Api, **overrides: object) -> dict[str, Any]:
    payload = (await api.gql(CREATE_JOB, {"input": job_input(**overrides)}))["createJob"]
    assert payload["userErrors"] == []
    run: dict[str, Any] = payload["run"]
    return run


async def wait_until(sub: Any, predicate: Any) -> dict[str, Any]:
    while True:
        event = await asyncio.wait_for(sub.next(), timeout=60)
        assert event is not None, "the subscription ended first"
        run: dict[str, Any] = event["runStatus"]
        if predicate(run):
            return run


async def delete_runs(api: Api, runs: list[dict[str, Any]]) -> None:
    batch = client.BatchV1Api(api.platform.kube)
    for r in runs:
        await batch.delete_collection_namespaced_job(
            api.namespace,
            label_selector=f"walkai.io/run-id={node_uuid(r['id'])}",
            propagation_policy="Background",
        )


async def test_a_higher_priority_run_preempts_and_the_victim_is_requeued(api: Api) -> None:
    low = [
        await create(
            api, gpu="7g.80gb", priority="LOW", command=["sh", "-c", "echo started; sleep 30"]
        )
        for _ in range(2)
    ]
    urgent: dict[str, Any] = {}
    try:
        for run in low:
            async with api.subscribe(RUN_STATUS, {"runId": run["id"]}) as sub:
                await wait_until(sub, lambda r: r["status"] == "RUNNING")

        urgent = await create(api, gpu="7g.80gb", priority="EXTRA_HIGH", command=["true"])
        async with api.subscribe(RUN_STATUS, {"runId": urgent["id"]}) as sub:
            done = await wait_until(sub, lambda r: r["status"] in ("COMPLETED", "FAILED"))
        assert done["status"] == "COMPLETED"

        victims = [(await api.gql(RUN, {"id": r["id"]}))["run"] for r in low]
        preempted = [v for v in victims if "PREEMPTED" in [e["reason"] for e in v["timeline"]]]
        assert len(preempted) == 1, [v["timeline"] for v in victims]
        (victim,) = preempted
        timeline = [(e["status"], e["reason"]) for e in victim["timeline"]]
        running_at = timeline.index(("RUNNING", None))
        assert ("PENDING", "PREEMPTED") in timeline[running_at:], "requeued after running"
        # The Job controller made a new pod for the victim: a second attempt, which runs again
        # once the urgent run has freed the GPU.
        async with api.subscribe(RUN_STATUS, {"runId": victim["id"]}) as sub:
            again = await wait_until(sub, lambda r: r["attempts"] == 2 and r["status"] == "RUNNING")
        assert again["startedAt"]
        # Both attempts' logs are kept, each line marked with the pod that printed it.
        lines: list[dict[str, Any]] = []
        for _ in range(100):
            lines = await all_pages(api, victim["id"], 100)
            if len(lines) == 2:
                break
            await asyncio.sleep(0.1)
        assert [(line["text"], line["attempt"]) for line in lines] == [
            ("started", 1),
            ("started", 2),
        ]
    finally:
        await delete_runs(api, [*low, *([urgent] if urgent else [])])
