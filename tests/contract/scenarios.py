"""End-to-end scenarios: each operation of frontend_contract/ sent to a running API, checked for
the fields its screen shows. Data is made through the API by `ContractData`.

Every operation needs an entry in SCENARIOS; `test_every_operation_has_a_scenario` names the
ones that lack it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx

from tests.contract.contract import operation
from tests.support.api import Api

TIMEOUT = 60


def job_input(**overrides: object) -> dict[str, object]:
    """The submit form, filled in as a person would."""
    base: dict[str, object] = {
        "name": "contract-train",
        "image": "ghcr.io/acme/train:v1",
        "gpu": "1g.10gb",
        "storageGi": 2,
        "command": [
            "sh",
            "-c",
            'echo epoch 1; echo epoch 2; echo 0.93 > "$WALKAI_OUTPUT_DIR/metrics.txt"; sleep 1; '
            "echo done",
        ],
        "env": [{"name": "EPOCHS", "value": "1"}],
        "priority": "HIGH",
    }
    return {**base, **overrides}


async def submit(api: Api, **overrides: object) -> dict[str, Any]:
    """Submit through the Jobs screen's own mutation; the payload must carry no userErrors."""
    payload: dict[str, Any] = (
        await api.gql(operation("SubmitJob"), {"input": job_input(**overrides)})
    )["createJob"]
    assert payload["userErrors"] == [], payload["userErrors"]
    return payload


async def follow(api: Api, name: str, run_id: str) -> list[dict[str, Any]]:
    """Every event of a run-status subscription until the server completes it."""
    async with api.subscribe(operation(name), {"runId": run_id}) as sub:
        return [e["runStatus"] for e in await asyncio.wait_for(sub.collect(), TIMEOUT)]


async def until_status(api: Api, run_id: str, status: str) -> None:
    """Wait until a run reaches a status (it stays there: the caller's job sleeps)."""
    async with api.subscribe(operation("RunStatusUpdates"), {"runId": run_id}) as sub:
        while True:
            event = await asyncio.wait_for(sub.next(), TIMEOUT)
            assert event is not None, f"run ended before reaching {status}"
            if event["runStatus"]["status"] == status:
                return


@dataclass
class ContractData:
    """Jobs made through the API: one completed, one failed, one running."""

    completed: dict[str, Any]
    failed: dict[str, Any]
    running: dict[str, Any]

    @classmethod
    async def create(cls, api: Api) -> ContractData:
        completed = await submit(api, name="contract-ok")
        failed = await submit(
            api, name="contract-fails", command=["sh", "-c", "echo boom; sleep 1; exit 3"], env=[]
        )
        running = await submit(
            # Running while the scenarios look at the dashboard; short, so later tests that
            # need whole GPUs do not wait long for its slice.
            api,
            name="contract-long",
            command=["sh", "-c", "sleep 20"],
            priority="MEDIUM",
        )
        await follow(api, "RunStatusUpdates", completed["run"]["id"])
        await follow(api, "RunStatusUpdates", failed["run"]["id"])
        await until_status(api, running["run"]["id"], "RUNNING")
        return cls(completed, failed, running)


Scenario = Callable[[Api, ContractData], Awaitable[None]]
SCENARIOS: dict[str, Scenario] = {}


def scenario(name: str) -> Callable[[Scenario], Scenario]:
    """Register the end-to-end check of operation `name`."""

    def register(function: Scenario) -> Scenario:
        SCENARIOS[name] = function
        return function

    return register


def ids(connection: dict[str, Any]) -> list[str]:
    return [edge["node"]["id"] for edge in connection["edges"]]


# Dashboard ------------------------------------------------------------------------------------


@scenario("DashboardOverview")
async def dashboard_overview(api: Api, data: ContractData) -> None:
    result = await api.gql(operation("DashboardOverview"), {"first": 100})
    assert "1g.10gb" in [p["name"] for p in result["gpuProfiles"]]
    running = {e["node"]["id"]: e["node"] for e in result["running"]["edges"]}
    row = running[data.running["job"]["id"]]
    assert row["name"] == "contract-long" and row["gpu"] == "1g.10gb"
    assert row["latestRun"]["status"] == "RUNNING" and row["latestRun"]["submittedAt"]
    assert data.completed["job"]["id"] not in running
    assert all(e["node"]["latestRun"]["status"] == "PENDING" for e in result["waiting"]["edges"])


@scenario("DashboardRunsChanged")
async def dashboard_runs_changed(api: Api, data: ContractData) -> None:
    async with api.subscribe(operation("DashboardRunsChanged")) as sub:
        created = await submit(api, name="contract-dash", command=["sh", "-c", "sleep 1"])
        while True:
            event = (await asyncio.wait_for(sub.next(), TIMEOUT) or {})["runsChanged"]
            if event["id"] == created["run"]["id"] and event["status"] == "COMPLETED":
                break
    assert event["job"] == {"id": created["job"]["id"], "name": "contract-dash", "gpu": "1g.10gb"}
    assert event["exitCode"] == 0 and event["finishedAt"] and event["durationSeconds"] >= 0


# Cluster --------------------------------------------------------------------------------------


@scenario("ClusterCapacity")
async def cluster_capacity(api: Api, data: ContractData) -> None:
    def holding(view: dict[str, Any], run_id: str) -> dict[str, Any] | None:
        gpus = [gpu for node in view["nodes"] for gpu in node["gpus"]]
        return next(
            (p for gpu in gpus for p in gpu["partitions"] if (p["run"] or {}).get("id") == run_id),
            None,
        )

    async with api.subscribe(operation("ClusterCapacity")) as sub:
        first = (await asyncio.wait_for(sub.next(), TIMEOUT) or {})["clusterChanged"]
        assert first["totals"]["gpus"] == 2 and first["totals"]["computeSlices"]["total"] == 14
        created = await submit(
            api,
            name="contract-cluster",
            gpu="2g.20gb",
            priority="MEDIUM",
            command=["sh", "-c", "sleep 300"],
        )
        run_id = created["run"]["id"]
        try:
            while True:
                view = (await asyncio.wait_for(sub.next(), TIMEOUT) or {})["clusterChanged"]
                partition = holding(view, run_id)
                if partition and partition["status"] == "IN_USE":
                    break
        finally:
            await api.gql(
                "mutation($id: ID!) { cancelRun(runId: $id) { userErrors { code } } }",
                {"id": run_id},
            )
    assert partition["profile"] == "2g.20gb" and partition["computeSlices"] == 2
    assert partition["priority"] == "MEDIUM"
    assert partition["run"]["job"] == {"id": created["job"]["id"], "name": "contract-cluster"}
    for node in view["nodes"]:
        for gpu in node["gpus"]:
            used = sum(p["computeSlices"] for p in gpu["partitions"])
            assert gpu["computeSlices"] == {"total": 7, "used": used, "free": 7 - used}
            assert gpu["model"] == "A100-80GB" and gpu["memorySlices"]["total"] == 8
    assert 2 <= view["totals"]["computeSlices"]["used"] <= 14
    medium = next(r for r in view["runningByPriority"] if r["priority"] == "MEDIUM")
    assert medium["runs"] >= 1 and medium["computeSlices"] >= 2
    assert all(d["runs"] > 0 for d in view["queuedDemand"])


# Jobs -----------------------------------------------------------------------------------------


@scenario("JobsList")
async def jobs_list(api: Api, data: ContractData) -> None:
    done = await api.gql(operation("JobsList"), {"first": 100, "status": "COMPLETED"})
    assert data.completed["job"]["id"] in ids(done["jobs"])
    assert data.failed["job"]["id"] not in ids(done["jobs"])
    failed = await api.gql(operation("JobsList"), {"first": 100, "status": "FAILED"})
    row = next(e["node"] for e in failed["jobs"]["edges"] if e["node"]["name"] == "contract-fails")
    assert row["image"] == "ghcr.io/acme/train:v1" and row["priority"] == "HIGH"
    assert row["latestRun"]["status"] == "FAILED" and row["latestRun"]["reason"] == "Error"
    # "Load more": two pages of one, newest first, never the same Job twice.
    first = (await api.gql(operation("JobsList"), {"first": 1}))["jobs"]
    assert first["pageInfo"]["hasNextPage"] is True
    after = first["pageInfo"]["endCursor"]
    second = (await api.gql(operation("JobsList"), {"first": 1, "after": after}))["jobs"]
    assert ids(first) != ids(second)
    assert first["edges"][0]["node"]["createdAt"] >= second["edges"][0]["node"]["createdAt"]


@scenario("SubmitJob")
async def submit_job(api: Api, data: ContractData) -> None:
    # The data above was submitted through this operation; here, what the form shows on success
    # and on a mistake.
    job = data.completed["job"]
    assert (job["name"], job["gpu"], job["priority"]) == ("contract-ok", "1g.10gb", "HIGH")
    assert job["latestRun"]["number"] == 1 and job["createdAt"]
    assert data.completed["run"]["status"] in ("SUBMITTED", "PENDING")
    refused = (
        await api.gql(operation("SubmitJob"), {"input": job_input(gpu="9g.90gb", storageGi=0)})
    )["createJob"]
    assert refused["job"] is None and refused["run"] is None
    assert {(e["field"], e["code"]) for e in refused["userErrors"]} == {
        ("gpu", "UNKNOWN_GPU_PROFILE"),
        ("storageGi", "OUT_OF_RANGE"),
    }
    assert all(e["message"] for e in refused["userErrors"])


# Job detail -----------------------------------------------------------------------------------


@scenario("JobDetail")
async def job_detail(api: Api, data: ContractData) -> None:
    job = (await api.gql(operation("JobDetail"), {"id": data.completed["job"]["id"]}))["job"]
    assert job["image"] == "ghcr.io/acme/train:v1" and job["storageGi"] == 2
    assert job["command"] == job_input()["command"] and job["args"] == []
    assert job["env"] == [{"name": "EPOCHS", "value": "1"}]
    assert job["inputs"] == [] and job["secrets"] == []
    assert job["latestRun"]["status"] == "COMPLETED" and job["latestRun"]["exitCode"] == 0
    runs = [e["node"] for e in job["runs"]["edges"]]
    assert [r["number"] for r in runs] == [1] and job["runs"]["pageInfo"]["hasNextPage"] is False
    assert runs[0]["startedAt"] and runs[0]["finishedAt"] and runs[0]["durationSeconds"] >= 0
    missing = await api.gql(operation("JobDetail"), {"id": data.completed["run"]["id"]})
    assert missing["job"] is None, "a run's id is not a Job: the page shows 'not found'"


@scenario("JobLatestRunStatus")
async def job_latest_run_status(api: Api, data: ContractData) -> None:
    events = await follow(api, "JobLatestRunStatus", data.completed["run"]["id"])
    assert [e["status"] for e in events] == ["COMPLETED"]
    assert events[0]["attempts"] == 1 and events[0]["exitCode"] == 0


@scenario("JobSchedules")
async def job_schedules(api: Api, data: ContractData) -> None:
    job_id = data.completed["job"]["id"]
    run_at = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
    created = await api.gql(
        "mutation($jobId: ID!, $runAt: DateTime) { createSchedule(jobId: $jobId, runAt: $runAt,"
        ' timezone: "Europe/Madrid") { userErrors { field } } }',
        {"jobId": job_id, "runAt": run_at.isoformat()},
    )
    assert created["createSchedule"]["userErrors"] == []
    job = (await api.gql(operation("JobSchedules"), {"id": job_id}))["job"]
    (schedule,) = job["schedules"]
    assert schedule["cron"] is None and schedule["timezone"] == "Europe/Madrid"
    assert datetime.fromisoformat(schedule["nextRunAt"]) == run_at and not schedule["paused"]
    assert schedule["lastRun"] is None and schedule["lastRunAt"] is None


# Run detail -----------------------------------------------------------------------------------


@scenario("RunDetail")
async def run_detail(api: Api, data: ContractData) -> None:
    run = (await api.gql(operation("RunDetail"), {"id": data.failed["run"]["id"]}))["run"]
    assert run["status"] == "FAILED" and run["exitCode"] == 3 and run["reason"] == "Error"
    assert run["job"]["name"] == "contract-fails" and run["job"]["gpu"] == "1g.10gb"
    timeline = run["timeline"]
    assert timeline[0]["status"] == "SUBMITTED" and timeline[-1]["status"] == "FAILED"
    assert [t["version"] for t in timeline] == sorted(t["version"] for t in timeline)
    # The timeline has the status changes; the version also counts where its outputs and its
    # place in the queue went, so it may be ahead of the last status change.
    assert timeline[-1]["version"] <= run["statusVersion"] and timeline[-1]["at"]
    # Ended: it no longer waits anywhere, and says what it ran with.
    assert run["pendingReason"] is None and run["queuePosition"] is None
    assert run["priority"] == "HIGH" and run["admittedAt"]  # the contract Jobs are HIGH


@scenario("CancelRun")
async def cancel_run(api: Api, data: ContractData) -> None:
    created = await submit(api, name="contract-cancel", command=["sh", "-c", "sleep 60"])
    run_id = created["run"]["id"]
    cancelled = (await api.gql(operation("CancelRun"), {"runId": run_id}))["cancelRun"]
    assert cancelled["userErrors"] == []
    assert (cancelled["run"]["status"], cancelled["run"]["reason"]) == ("CANCELLED", "CANCELLED")
    again = (await api.gql(operation("CancelRun"), {"runId": run_id}))["cancelRun"]
    assert [(e["field"], e["code"]) for e in again["userErrors"]] == [("runId", "ALREADY_FINISHED")]
    assert again["userErrors"][0]["message"]


@scenario("RunStatusUpdates")
async def run_status_updates(api: Api, data: ContractData) -> None:
    created = await submit(api, name="contract-follow", command=["sh", "-c", "sleep 1"])
    events = await follow(api, "RunStatusUpdates", created["run"]["id"])
    assert events[-1]["status"] == "COMPLETED" and events[-1]["exitCode"] == 0
    # It completes once the outputs are settled: the artifacts can be listed at once.
    assert events[-1]["outputsStatus"]["status"] == "UPLOADED"
    assert events[-1]["queuePosition"] is None and events[-1]["admittedAt"]
    versions = [e["statusVersion"] for e in events]
    assert versions == sorted(set(versions)), "a screen can drop stale events by version"
    # Events may coalesce under load; the timeline the page refetches has every step.
    run = (await api.gql(operation("RunDetail"), {"id": created["run"]["id"]}))["run"]
    assert "RUNNING" in [step["status"] for step in run["timeline"]]
    assert run["statusVersion"] == versions[-1]


# CLI ------------------------------------------------------------------------------------------


@scenario("CliGpuProfiles")
async def cli_gpu_profiles(api: Api, data: ContractData) -> None:
    names = [p["name"] for p in (await api.gql(operation("CliGpuProfiles")))["gpuProfiles"]]
    assert names[0] == "1g.10gb" and "7g.80gb" in names


@scenario("CliSubmit")
async def cli_submit(api: Api, data: ContractData) -> None:
    variables = {"input": job_input(name="contract-cli", command=["true"])}
    payload = (await api.gql(operation("CliSubmit"), variables))["createJob"]
    assert payload["userErrors"] == [] and payload["job"]["name"] == "contract-cli"
    assert payload["run"]["number"] == 1 and payload["run"]["id"]
    bad = {"input": job_input(image="", command=["true"])}
    refused = (await api.gql(operation("CliSubmit"), bad))["createJob"]
    assert [(e["field"], e["code"]) for e in refused["userErrors"]] == [("image", "REQUIRED")]


@scenario("CliFollowRun")
async def cli_follow_run(api: Api, data: ContractData) -> None:
    events = await follow(api, "CliFollowRun", data.failed["run"]["id"])
    assert [(e["status"], e["exitCode"]) for e in events] == [("FAILED", 3)]
    assert events[0]["finishedAt"] and events[0]["reason"] == "Error"


@scenario("CliRun")
async def cli_run(api: Api, data: ContractData) -> None:
    run = (await api.gql(operation("CliRun"), {"id": data.completed["run"]["id"]}))["run"]
    assert run["status"] == "COMPLETED" and run["exitCode"] == 0
    assert run["job"]["name"] == "contract-ok" and run["number"] == 1


# Logs -----------------------------------------------------------------------------------------

LOG = ["epoch 1", "epoch 2", "done"]


async def follow_logs(api: Api, name: str, variables: dict[str, Any]) -> list[dict[str, Any]]:
    async with api.subscribe(operation(name), variables) as sub:
        return [e["runLogs"] for e in await asyncio.wait_for(sub.collect(), TIMEOUT)]


@scenario("RunLogs")
async def run_logs(api: Api, data: ContractData) -> None:
    run_id = data.completed["run"]["id"]
    batches = await follow_logs(api, "RunLogs", {"runId": run_id, "container": "main"})
    lines = [line for batch in batches for line in batch["lines"]]
    assert [line["text"] for line in lines] == LOG
    assert {(line["stream"], line["attempt"]) for line in lines} == {("main", 1)}
    assert all(line["timestamp"] and line["cursor"] for line in lines)
    assert batches[-1]["endCursor"] == lines[-1]["cursor"] and not batches[-1]["lagged"]
    # Reconnecting with a cursor gives exactly the lines after it.
    variables = {"runId": run_id, "after": lines[0]["cursor"], "container": "main"}
    rest = await follow_logs(api, "RunLogs", variables)
    assert [line["text"] for batch in rest for line in batch["lines"]] == LOG[1:]


@scenario("RunLogPage")
async def run_log_page(api: Api, data: ContractData) -> None:
    variables = {"id": data.completed["run"]["id"], "last": 2, "container": "main"}
    run = (await api.gql(operation("RunLogPage"), variables))["run"]
    tail = [edge["node"]["text"] for edge in run["logs"]["edges"]]
    assert tail == LOG[-2:] and run["logs"]["pageInfo"]["hasPreviousPage"] is True
    before = run["logs"]["pageInfo"]["startCursor"]
    older = (await api.gql(operation("RunLogPage"), {**variables, "before": before}))["run"]
    assert [edge["node"]["text"] for edge in older["logs"]["edges"]] == LOG[:1]
    assert run["status"] == "COMPLETED"


@scenario("CliFollowLogs")
async def cli_follow_logs(api: Api, data: ContractData) -> None:
    batches = await follow_logs(api, "CliFollowLogs", {"runId": data.failed["run"]["id"]})
    assert [line["text"] for batch in batches for line in batch["lines"]] == ["boom"]


async def _archived(api: Api, run_id: str) -> str | None:
    for _ in range(200):
        run = (await api.gql(operation("CliLogDownload"), {"id": run_id}))["run"]
        if run["logDownloadUrl"]:
            return str(run["logDownloadUrl"])
        await asyncio.sleep(0.05)
    return None


@scenario("CliLogDownload")
async def cli_log_download(api: Api, data: ContractData) -> None:
    url = await _archived(api, data.completed["run"]["id"])
    assert url is not None, "the log of an ended run is archived and downloadable"
    # The local store signs URLs for the configured public address; the test API listens on a
    # free port, so the same path and signature are asked of it.
    parts = urlsplit(url)
    async with httpx.AsyncClient() as http:
        response = await http.get(f"{api.base_url}{parts.path}?{parts.query}")
    response.raise_for_status()
    assert [line.split(" ", 1)[1] for line in response.text.splitlines()] == LOG
