"""Run control through the API: cancel, time limits, reruns with changes, outputs that settle."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import httpx

from app.kube.labels import kube_job_name
from tests.api.operations import CREATE_JOB, job_input
from tests.support.api import Api
from tests.support.graphql import node_uuid
from tests.support.kubectl import kubectl

RUN = """
query($id: ID!) {
  run(id: $id) {
    id status reason message exitCode statusVersion priority maxRuntimeSeconds command args
    env { name value }
    outputsStatus { status message }
    timeline { status reason message at }
    artifacts(first: 10) { edges { node { path size downloadUrl } } }
  }
}"""

CANCEL = """
mutation($runId: ID!) {
  cancelRun(runId: $runId) { run { id status reason } userErrors { field message code } }
}"""

RERUN = """
mutation($jobId: ID!, $overrides: RunOverridesInput) {
  rerunJob(jobId: $jobId, overrides: $overrides) {
    job { id priority command env { name value } }
    run { id number priority maxRuntimeSeconds command args env { name value } }
    userErrors { field message code }
  }
}"""

RUN_STATUS = """
subscription($runId: ID!) {
  runStatus(runId: $runId) { status reason statusVersion outputsStatus { status message } }
}"""

# Writes a file to the output directory, says so, then works for a minute.
WRITE_THEN_SLEEP = 'echo kept > "$WALKAI_OUTPUT_DIR/partial.txt"; echo written; sleep 60'


async def create(api: Api, **fields: object) -> dict[str, Any]:
    payload = (await api.gql(CREATE_JOB, {"input": job_input(**fields)}))["createJob"]
    assert payload["userErrors"] == [], payload["userErrors"]
    return {"job": payload["job"], "run": payload["run"]}


async def run_of(api: Api, run_id: str) -> dict[str, Any]:
    run: dict[str, Any] = (await api.gql(RUN, {"id": run_id}))["run"]
    return run


async def wait_for(
    api: Api, run_id: str, holds: Callable[[dict[str, Any]], bool], timeout: float = 60
) -> dict[str, Any]:
    """The run once `holds(run)`; fails with its last state after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        run = await run_of(api, run_id)
        if holds(run):
            return run
        assert time.monotonic() < deadline, f"timed out; the run is {run}"
        await asyncio.sleep(0.2)


async def pods_of(api: Api, run_id: str) -> list[dict[str, Any]]:
    out = await kubectl(
        api.kubeconfig,
        "get",
        "pods",
        "-l",
        f"walkai.io/run-id={node_uuid(run_id)}",
        "-o",
        "json",
        namespace=api.namespace,
    )
    items: list[dict[str, Any]] = json.loads(out)["items"]
    return items


async def running_with_output(api: Api) -> str:
    """A run that has written a file and is still working."""
    run_id: str = (await create(api, command=["sh", "-c", WRITE_THEN_SLEEP]))["run"]["id"]
    await wait_for(api, run_id, lambda r: r["status"] == "RUNNING")
    query = "query($id: ID!) { run(id: $id) { logs(first: 5) { edges { node { text } } } } }"
    deadline = time.monotonic() + 30
    while True:
        edges = (await api.gql(query, {"id": run_id}))["run"]["logs"]["edges"]
        if any(e["node"]["text"] == "written" for e in edges):
            return run_id
        assert time.monotonic() < deadline, "the run never wrote its file"
        await asyncio.sleep(0.1)


async def test_cancelling_a_running_run_stops_its_pod_and_keeps_what_it_wrote(api: Api) -> None:
    run_id = await running_with_output(api)
    async with api.subscribe(RUN_STATUS, {"runId": run_id}) as sub:
        payload = (await api.gql(CANCEL, {"runId": run_id}))["cancelRun"]
        assert payload["userErrors"] == []
        assert payload["run"]["status"] == "CANCELLED" and payload["run"]["reason"] == "CANCELLED"
        events = [e["runStatus"] for e in await asyncio.wait_for(sub.collect(), timeout=60)]
    # The subscription ends once the outputs are settled: the file written before the cancel
    # was uploaded by the sidecar during the pod's grace period.
    assert events[-1]["status"] == "CANCELLED"
    assert events[-1]["outputsStatus"]["status"] == "UPLOADED", events
    run = await run_of(api, run_id)
    assert [e["node"]["path"] for e in run["artifacts"]["edges"]] == ["partial.txt"]
    url = run["artifacts"]["edges"][0]["node"]["downloadUrl"]
    async with httpx.AsyncClient() as http:
        assert (await http.get(url)).text == "kept\n"
    cancelled = run["timeline"][-1]
    assert cancelled["status"] == "CANCELLED" and cancelled["reason"] == "CANCELLED"
    assert api.user is not None and api.user.email in cancelled["message"]
    deadline = time.monotonic() + 30
    while await pods_of(api, run_id):
        assert time.monotonic() < deadline, "the pod was not stopped"
        await asyncio.sleep(0.2)
    # Cancelled is final: nothing the dying pod reported changed it.
    final = await run_of(api, run_id)
    assert final["status"] == "CANCELLED" and final["exitCode"] is None


async def test_cancel_twice_or_after_the_end_is_a_clear_error(api: Api) -> None:
    run_id = (await create(api, command=["sh", "-c", "sleep 30"]))["run"]["id"]
    first = (await api.gql(CANCEL, {"runId": run_id}))["cancelRun"]
    assert first["userErrors"] == []
    again = (await api.gql(CANCEL, {"runId": run_id}))["cancelRun"]
    assert again["run"]["status"] == "CANCELLED"
    assert [(e["field"], e["code"]) for e in again["userErrors"]] == [("runId", "ALREADY_FINISHED")]
    done = (await create(api, command=["true"]))["run"]["id"]
    await wait_for(api, done, lambda r: r["status"] == "COMPLETED")
    late = (await api.gql(CANCEL, {"runId": done}))["cancelRun"]
    assert [e["code"] for e in late["userErrors"]] == ["ALREADY_FINISHED"]
    assert "COMPLETED" in late["userErrors"][0]["message"]
    assert (await run_of(api, done))["status"] == "COMPLETED"


async def test_a_run_waiting_for_a_gpu_is_cancelled_before_it_starts(api: Api) -> None:
    blockers = [
        (await create(api, gpu="7g.80gb", command=["sh", "-c", "sleep 60"]))["run"]["id"]
        for _ in range(2)
    ]
    waiting = (await create(api, gpu="7g.80gb", command=["true"]))["run"]["id"]
    await wait_for(api, waiting, lambda r: r["status"] == "PENDING")
    for run_id in [waiting, *blockers]:
        payload = (await api.gql(CANCEL, {"runId": run_id}))["cancelRun"]
        assert payload["userErrors"] == [], payload
    # It never ran: nothing to upload, and that is not a failure.
    run = await wait_for(api, waiting, lambda r: r["outputsStatus"]["status"] != "PENDING")
    assert run["status"] == "CANCELLED"
    assert run["outputsStatus"]["status"] == "NONE"
    for run_id in blockers:
        await wait_for(api, run_id, lambda r: r["outputsStatus"]["status"] != "PENDING")
        deadline = time.monotonic() + 30
        while await pods_of(api, run_id):
            assert time.monotonic() < deadline, "the pod was not stopped"
            await asyncio.sleep(0.2)


async def test_another_users_run_cannot_be_cancelled_and_looks_missing(api: Api) -> None:
    run_id = (await create(api, command=["sh", "-c", "sleep 20"]))["run"]["id"]
    other = await api.as_new_user()
    payload = (await other.gql(CANCEL, {"runId": run_id}))["cancelRun"]
    assert payload["run"] is None
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [("runId", "NOT_FOUND")]
    assert (await run_of(api, run_id))["status"] in ("SUBMITTED", "PENDING", "RUNNING")
    # A teammate of a team Job, and an admin, may.
    admin = await api.as_new_user("ADMIN")
    assert (await admin.gql(CANCEL, {"runId": run_id}))["cancelRun"]["userErrors"] == []


async def test_a_run_past_its_time_limit_fails_with_deadline_exceeded(api: Api) -> None:
    created = await create(api, command=["sh", "-c", WRITE_THEN_SLEEP], maxRuntimeSeconds=2)
    assert created["run"]["status"] in ("SUBMITTED", "PENDING")
    run_id = created["run"]["id"]
    started = time.monotonic()
    run = await wait_for(
        api, run_id, lambda r: r["outputsStatus"]["status"] in ("UPLOADED", "FAILED"), timeout=40
    )
    assert time.monotonic() - started < 30, "it ended long after its limit"
    assert run["status"] == "FAILED" and run["reason"] == "DEADLINE_EXCEEDED", run
    assert "2 s" in run["message"]
    assert run["maxRuntimeSeconds"] == 2
    assert run["outputsStatus"]["status"] == "UPLOADED"
    assert [e["node"]["path"] for e in run["artifacts"]["edges"]] == ["partial.txt"]
    job = json.loads(
        await kubectl(
            api.kubeconfig,
            "get",
            "job",
            kube_job_name(node_uuid(run_id)),
            "-o",
            "json",
            namespace=api.namespace,
        )
    )
    assert job["spec"]["activeDeadlineSeconds"] == 2


async def test_time_limits_are_bounded(api: Api) -> None:
    for seconds in (0, -5, 10**9):
        payload = (await api.gql(CREATE_JOB, {"input": job_input(maxRuntimeSeconds=seconds)}))[
            "createJob"
        ]
        assert payload["job"] is None
        assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [
            ("maxRuntimeSeconds", "OUT_OF_RANGE")
        ]


async def test_a_rerun_with_changes_runs_them_for_that_run_only(api: Api) -> None:
    created = await create(
        api, command=["sh", "-c", "echo first"], env=[{"name": "A", "value": "1"}]
    )
    job_id = created["job"]["id"]
    await wait_for(api, created["run"]["id"], lambda r: r["status"] == "COMPLETED")
    overrides = {
        "priority": "HIGH",
        "maxRuntimeSeconds": 120,
        "command": ["sh", "-c", 'echo "second $B"'],
        "env": [{"name": "B", "value": "two"}],
    }
    payload = (await api.gql(RERUN, {"jobId": job_id, "overrides": overrides}))["rerunJob"]
    assert payload["userErrors"] == []
    run = payload["run"]
    assert run["number"] == 2 and run["priority"] == "HIGH" and run["maxRuntimeSeconds"] == 120
    assert run["command"] == ["sh", "-c", 'echo "second $B"']
    assert run["env"] == [{"name": "B", "value": "two"}]
    # The Job is unchanged; the first run still shows what it ran with.
    assert payload["job"]["priority"] == "MEDIUM"
    assert payload["job"]["env"] == [{"name": "A", "value": "1"}]
    first = await run_of(api, created["run"]["id"])
    assert first["command"] == ["sh", "-c", "echo first"] and first["priority"] == "MEDIUM"
    # The cluster ran the overrides.
    done = await wait_for(api, run["id"], lambda r: r["status"] == "COMPLETED")
    assert done["exitCode"] == 0
    query = "query($id: ID!) { run(id: $id) { logs(first: 5) { edges { node { text } } } } }"
    lines = (await api.gql(query, {"id": run["id"]}))["run"]["logs"]["edges"]
    assert [e["node"]["text"] for e in lines] == ["second two"]
    # A plain rerun is the Job again.
    plain = (await api.gql(RERUN, {"jobId": job_id}))["rerunJob"]["run"]
    assert plain["priority"] == "MEDIUM" and plain["env"] == [{"name": "A", "value": "1"}]


async def test_invalid_overrides_name_their_field_and_create_nothing(api: Api) -> None:
    created = await create(api, command=["true"])
    job_id = created["job"]["id"]
    overrides = {"env": [{"name": "1BAD", "value": "x"}], "maxRuntimeSeconds": 0}
    payload = (await api.gql(RERUN, {"jobId": job_id, "overrides": overrides}))["rerunJob"]
    assert payload["run"] is None
    assert sorted((e["field"], e["code"]) for e in payload["userErrors"]) == [
        ("overrides.env.0.name", "INVALID"),
        ("overrides.maxRuntimeSeconds", "OUT_OF_RANGE"),
    ]
    runs = "query($id: ID!) { job(id: $id) { runs(first: 5) { edges { node { number } } } } }"
    edges = (await api.gql(runs, {"id": job_id}))["job"]["runs"]["edges"]
    assert [e["node"]["number"] for e in edges] == [1]


async def test_run_status_ends_once_outputs_are_uploaded(api: Api) -> None:
    script = 'echo data > "$WALKAI_OUTPUT_DIR/out.txt"'
    run_id = (await create(api, command=["sh", "-c", script]))["run"]["id"]
    async with api.subscribe(RUN_STATUS, {"runId": run_id}) as sub:
        events = [e["runStatus"] for e in await asyncio.wait_for(sub.collect(), timeout=60)]
    last = events[-1]
    assert (last["status"], last["outputsStatus"]["status"]) == ("COMPLETED", "UPLOADED")
    # The artifacts are there the moment the subscription ends.
    run = await run_of(api, run_id)
    assert [e["node"]["path"] for e in run["artifacts"]["edges"]] == ["out.txt"]
    versions = [e["statusVersion"] for e in events]
    assert versions == sorted(set(versions))


async def test_cancelling_a_run_whose_outputs_upload_is_refused(api: Api) -> None:
    # The main container ends at once; the sidecar then uploads 64 MiB, which takes a while.
    script = 'head -c 67108864 /dev/zero > "$WALKAI_OUTPUT_DIR/big.bin"'
    run_id = (await create(api, command=["sh", "-c", script]))["run"]["id"]
    await wait_for(api, run_id, lambda r: r["outputsStatus"]["status"] != "PENDING")
    payload = (await api.gql(CANCEL, {"runId": run_id}))["cancelRun"]
    assert [e["code"] for e in payload["userErrors"]] == ["ALREADY_FINISHED"]
    assert payload["run"]["status"] == "COMPLETED"
    run = await wait_for(api, run_id, lambda r: r["outputsStatus"]["status"] != "UPLOADING")
    assert run["status"] == "COMPLETED" and run["outputsStatus"]["status"] == "UPLOADED"
    sizes = {e["node"]["path"]: e["node"]["size"] for e in run["artifacts"]["edges"]}
    assert sizes == {"big.bin": 67108864}
