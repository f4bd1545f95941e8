"""What stays and what goes: finished runs leave the namespace, deleted Jobs leave the API."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from app.db.log_models import LogLine
from app.db.models import Run
from tests.admission.test_queue import gpus_free
from tests.inputs.test_inputs import DELETE as DELETE_INPUT
from tests.inputs.test_inputs import create_input
from tests.runs.test_run_control import CANCEL, create, run_of, wait_for
from tests.support.api import Api
from tests.support.graphql import node_uuid
from tests.support.kubectl import kubectl

SETTLED = ("UPLOADED", "FAILED", "NONE")

DELETE_JOB = """
mutation($id: ID!) {
  deleteJob(id: $id) { deletedId runCount userErrors { field message code } }
}"""

JOB = "query($id: ID!) { job(id: $id) { id name } }"

LOG_URL = 'query($id: ID!) { run(id: $id) { logDownloadUrl(container: "main") } }'


@pytest.fixture
async def quick_cleanup(api: Api) -> AsyncIterator[None]:
    """Finished runs' Kubernetes Jobs go a second after they end (60 s by default)."""
    janitor = api.platform.janitor
    assert janitor is not None
    grace, interval, vanished = janitor.grace, janitor.interval, janitor.vanished_after
    janitor.grace = janitor.vanished_after = type(grace)(seconds=1)
    janitor.interval = 0.5
    janitor.wake()
    try:
        yield
    finally:
        janitor.grace, janitor.interval, janitor.vanished_after = grace, interval, vanished


async def managed_jobs(api: Api) -> list[str]:
    out = await kubectl(
        api.kubeconfig,
        "get",
        "jobs",
        "-l",
        "app.kubernetes.io/managed-by=walkai-jobs",
        "-o",
        "json",
        namespace=api.namespace,
    )
    return [item["metadata"]["name"] for item in json.loads(out)["items"]]


async def test_finished_runs_leave_the_namespace_and_stay_in_the_api(
    api: Api, quick_cleanup: None
) -> None:
    script = 'echo "run $WALKAI_RUN_ID"; echo out > "$WALKAI_OUTPUT_DIR/result.txt"'
    # A burst of short runs, finishing close together.
    runs = [(await create(api, command=["sh", "-c", script]))["run"]["id"] for _ in range(12)]
    names = {f"run-{node_uuid(r).replace('-', '')}" for r in runs}
    for run_id in runs:
        await wait_for(api, run_id, lambda r: r["outputsStatus"]["status"] in SETTLED, timeout=240)
    deadline = time.monotonic() + 60
    while names & set(await managed_jobs(api)):
        assert time.monotonic() < deadline, "finished Kubernetes Jobs are still there"
        await asyncio.sleep(0.5)
    # Their pods and credential Secrets went with them.
    pods = await kubectl(api.kubeconfig, "get", "pods", "-o", "name", namespace=api.namespace)
    secrets = await kubectl(api.kubeconfig, "get", "secrets", "-o", "name", namespace=api.namespace)
    for name in names:
        assert name not in pods and f"{name}-credential" not in secrets
    # Every run's record, log and artifacts are still served.
    async with httpx.AsyncClient() as http:
        for run_id in runs[::3]:
            run = await run_of(api, run_id)
            assert run["status"] == "COMPLETED"
            assert run["outputsStatus"]["status"] == "UPLOADED", run["outputsStatus"]
            assert [e["node"]["path"] for e in run["artifacts"]["edges"]] == ["result.txt"]
            url = (await api.gql(LOG_URL, {"id": run_id}))["run"]["logDownloadUrl"]
            assert node_uuid(run_id) in (await http.get(url)).text


async def test_deleting_a_job_removes_its_runs_and_their_data(api: Api) -> None:
    created = await create(api, command=["sh", "-c", 'echo hello; echo x > "$WALKAI_OUTPUT_DIR/f"'])
    job_id, run_id = created["job"]["id"], created["run"]["id"]
    running = await create(api, command=["sh", "-c", "sleep 30"])
    # A Job with an unfinished run stays.
    refused = (await api.gql(DELETE_JOB, {"id": running["job"]["id"]}))["deleteJob"]
    assert refused["deletedId"] is None
    assert [(e["field"], e["code"]) for e in refused["userErrors"]] == [("id", "IN_USE")]
    await api.gql(CANCEL, {"runId": running["run"]["id"]})
    # Another user cannot delete it: it looks missing.
    other = await api.as_new_user()
    hidden = (await other.gql(DELETE_JOB, {"id": job_id}))["deleteJob"]
    assert [e["code"] for e in hidden["userErrors"]] == ["NOT_FOUND"]

    await wait_for(api, run_id, lambda r: r["outputsStatus"]["status"] in SETTLED)
    await wait_for(api, run_id, lambda r: bool(r["timeline"]))
    store = api.platform.store
    uuid = node_uuid(run_id)
    deadline = time.monotonic() + 30
    while not (await store.list(f"runs/{uuid}/logs/", limit=10)).objects:
        assert time.monotonic() < deadline, "the log was never archived"
        await asyncio.sleep(0.2)
    assert await LogLine.filter(run_id=uuid).exists()

    payload = (await api.gql(DELETE_JOB, {"id": job_id}))["deleteJob"]
    assert payload == {"deletedId": job_id, "runCount": 1, "userErrors": []}
    # Gone at once for every query; its data goes in the background.
    assert (await api.gql(JOB, {"id": job_id}))["job"] is None
    assert (await api.gql("query($id: ID!) { run(id: $id) { id } }", {"id": run_id}))["run"] is None
    deadline = time.monotonic() + 30
    while (await store.list(f"runs/{uuid}/", limit=10)).objects or await LogLine.filter(
        run_id=uuid
    ).exists():
        assert time.monotonic() < deadline, "the run's data is still stored"
        await asyncio.sleep(0.2)
    again = (await api.gql(DELETE_JOB, {"id": job_id}))["deleteJob"]
    assert [e["code"] for e in again["userErrors"]] == ["NOT_FOUND"]


async def test_an_input_is_deletable_once_its_only_run_is_cancelled(api: Api) -> None:
    input_id = await create_input(api, "cancel-me", {"a.txt": (b"a", "text/plain")})
    created = await create(api, command=["sh", "-c", "sleep 60"], inputIds=[input_id])
    busy = (await api.gql(DELETE_INPUT, {"id": input_id}))["deleteInput"]
    assert [e["code"] for e in busy["userErrors"]] == ["IN_USE"]
    cancelled = (await api.gql(CANCEL, {"runId": created["run"]["id"]}))["cancelRun"]
    assert cancelled["userErrors"] == []
    deleted = (await api.gql(DELETE_INPUT, {"id": input_id}))["deleteInput"]
    assert deleted == {"deletedId": input_id, "userErrors": []}


async def test_a_run_whose_kubernetes_job_was_deleted_by_hand_fails_saying_so(
    api: Api, quick_cleanup: None
) -> None:
    blockers = [
        (await create(api, gpu="7g.80gb", command=["sh", "-c", "sleep 60"]))["run"]["id"]
        for _ in range(2)
    ]
    queued = (await create(api, gpu="7g.80gb", command=["true"]))["run"]["id"]
    try:
        await wait_for(api, queued, lambda r: r["status"] == "PENDING")
        name = f"run-{node_uuid(queued).replace('-', '')}"
        await kubectl(api.kubeconfig, "delete", "job", name, namespace=api.namespace)
        run = await wait_for(api, queued, lambda r: r["status"] == "FAILED")
        assert run["reason"] == "JobDeleted" and "deleted" in run["message"]
        assert run["outputsStatus"]["status"] == "NONE"
    finally:
        for run_id in blockers:
            await api.gql(CANCEL, {"runId": run_id})


async def test_a_requeued_run_whose_suspension_was_lost_is_stopped_by_the_clean_up(
    api: Api,
) -> None:
    """The queue took a run back (preempted or evicted) but its Job's suspension never reached
    the cluster: the clean-up pass suspends it, so no pod runs outside the queue."""
    # Both GPUs taken, so no admission pass lets the requeued run go again meanwhile.
    await gpus_free(api)
    run_id, blocker = [
        (await create(api, gpu="7g.80gb", command=["sh", "-c", "sleep 60"]))["run"]["id"]
        for _ in range(2)
    ]
    try:
        for each in (run_id, blocker):
            await wait_for(api, each, lambda r: r["status"] == "RUNNING")
        name = f"run-{node_uuid(run_id).replace('-', '')}"
        # What the database says after a requeue whose PATCH failed; the Job still runs.
        await Run.filter(id=node_uuid(run_id)).update(admitted_at=None)
        await api.platform.janitor.sweep()
        job = json.loads(
            await kubectl(api.kubeconfig, "get", "job", name, "-o", "json", namespace=api.namespace)
        )
        assert job["spec"]["suspend"] is True
    finally:
        for each in (run_id, blocker):
            await api.gql(CANCEL, {"runId": each})
