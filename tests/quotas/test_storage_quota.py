"""The storage quota counts everything a user keeps: inputs, and their runs' outputs and
logs. At the quota new runs are refused (nothing created); deleting a Job gives the room back."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from app.db.models import Job, Run
from tests.artifacts.flows import submit, wait_outputs
from tests.inputs.test_upload_urls import quota
from tests.support.api import Api

STORAGE = "{ viewer { storage { inputsBytes outputsBytes logsBytes usedBytes quotaBytes } } }"
LOG_URL = "query($id: ID!) { run(id: $id) { logDownloadUrl } }"
RERUN = """
mutation($id: ID!) {
  rerunJob(jobId: $id) { run { id } userErrors { field message code } }
}"""
CREATE_JOB = """
mutation($input: CreateJobInput!) {
  createJob(input: $input) { job { id } run { id } userErrors { field message code } }
}"""
DELETE_JOB = "mutation($id: ID!) { deleteJob(id: $id) { userErrors { code } } }"
JOB_OF_RUN = "query($id: ID!) { run(id: $id) { job { id } } }"

# 3,000 bytes of outputs and 200 lines of log.
WRITE = """
import os, pathlib
(pathlib.Path(os.environ["WALKAI_OUTPUT_DIR"]) / "weights.bin").write_bytes(b"w" * 3000)
for n in range(200):
    print(f"step {n:04d} loss 0.{n:04d}")
"""


async def storage(api: Api) -> dict[str, Any]:
    use: dict[str, Any] = (await api.gql(STORAGE))["viewer"]["storage"]
    return use


async def archived(api: Api, run_id: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while (await api.gql(LOG_URL, {"id": run_id}))["run"]["logDownloadUrl"] is None:
        assert time.monotonic() < deadline, "the run's log was never archived"
        await asyncio.sleep(0.2)


async def test_outputs_and_logs_count_and_a_user_at_the_quota_cannot_start_runs(
    api: Api,
) -> None:
    user = await api.as_new_user()
    assert await storage(user) == {
        "inputsBytes": 0,
        "outputsBytes": 0,
        "logsBytes": 0,
        "usedBytes": 0,
        "quotaBytes": None,
    }
    run_id = await submit(user, WRITE)
    assert (await wait_outputs(user, run_id))["outputsStatus"]["status"] == "UPLOADED"
    await archived(user, run_id)
    use = await storage(user)
    assert use["outputsBytes"] == 3000
    # Each stored line is a timestamp and the text: at least the text's bytes.
    assert use["logsBytes"] >= sum(len(f"step {n:04d} loss 0.{n:04d}\n") for n in range(200))
    assert use["usedBytes"] == use["inputsBytes"] + use["outputsBytes"] + use["logsBytes"]

    job_id = (await user.gql(JOB_OF_RUN, {"id": run_id}))["run"]["job"]["id"]
    with quota(user, use["usedBytes"]):
        assert (await storage(user))["quotaBytes"] == use["usedBytes"]
        jobs, runs = await Job.all().count(), await Run.all().count()
        job = {"image": "busybox:1.36", "gpu": "1g.10gb", "storageGi": 1, "command": ["true"]}
        created = (await user.gql(CREATE_JOB, {"input": job}))["createJob"]
        (error,) = created["userErrors"]
        assert (error["field"], error["code"]) == ("storageGi", "QUOTA_EXCEEDED")
        assert "run outputs 3000" in error["message"]
        assert created["job"] is None and created["run"] is None
        rerun = (await user.gql(RERUN, {"id": job_id}))["rerunJob"]
        assert [(e["field"], e["code"]) for e in rerun["userErrors"]] == [
            ("jobId", "QUOTA_EXCEEDED")
        ]
        assert rerun["run"] is None
        assert (await Job.all().count(), await Run.all().count()) == (jobs, runs)

        # Another user is not held back by this one's data.
        other = await api.as_new_user()
        assert (await other.gql(CREATE_JOB, {"input": job}))["createJob"]["userErrors"] == []

        # Deleting the Job gives the room back (its outputs and logs go in the background).
        assert (await user.gql(DELETE_JOB, {"id": job_id}))["deleteJob"]["userErrors"] == []
        deadline = time.monotonic() + 60
        while (await storage(user))["usedBytes"]:
            assert time.monotonic() < deadline, await storage(user)
            await asyncio.sleep(0.2)
        again = (await user.gql(CREATE_JOB, {"input": job}))["createJob"]
        assert again["userErrors"] == [] and again["run"] is not None
