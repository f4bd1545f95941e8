"""rerunJob: the same Job again, with the next number and the same inputs; and what deleting
an input does to the Jobs that read it."""

from __future__ import annotations

import uuid

from tests.artifacts.flows import submit, wait_outputs
from tests.inputs.test_inputs import create_input
from tests.support.api import Api

RERUN = """
mutation($jobId: ID!) {
  rerunJob(jobId: $jobId) { job { id } run { id number } userErrors { field message code } }
}"""

JOB_OF = """query($id: ID!) { run(id: $id) { number job { id } } }"""
LATEST_RUN = """query($id: ID!) { job(id: $id) { latestRun { number } } }"""
JOB_INPUTS = """query($id: ID!) { job(id: $id) { inputs { name input { id name } } } }"""
DELETE = """
mutation($id: ID!) { deleteInput(id: $id) { deletedId userErrors { field message code } } }"""
INPUT = """query($id: ID!) { input(id: $id) { name status } }"""

READ = (
    "import os; p = os.environ['WALKAI_INPUT_DIR'] + '/rerun-data/n.txt'; "
    "assert open(p).read() == '42'"
)


async def test_a_rerun_reads_the_same_inputs_under_the_next_number(api: Api) -> None:
    input_id = await create_input(api, "rerun-data", {"n.txt": (b"42", "text/plain")})
    first = await submit(api, READ, input_ids=[input_id])
    assert (await wait_outputs(api, first))["status"] == "COMPLETED"
    job_id = (await api.gql(JOB_OF, {"id": first}))["run"]["job"]["id"]

    rerun = (await api.gql(RERUN, {"jobId": job_id}))["rerunJob"]
    assert rerun["userErrors"] == []
    assert (rerun["job"]["id"], rerun["run"]["number"]) == (job_id, 2)
    assert (await wait_outputs(api, rerun["run"]["id"]))["status"] == "COMPLETED"


async def test_rerunning_a_job_nobody_can_see_is_not_found(api: Api) -> None:
    run = await submit(api, "print(1)")
    job_id = (await api.gql(JOB_OF, {"id": run}))["run"]["job"]["id"]
    stranger = await api.as_new_user()
    refused = (await stranger.gql(RERUN, {"jobId": job_id}))["rerunJob"]
    assert refused["run"] is None
    assert [(e["field"], e["code"]) for e in refused["userErrors"]] == [("jobId", "NOT_FOUND")]


async def test_an_input_that_unfinished_runs_read_stays_and_its_job_is_not_rerun_without_it(
    api: Api,
) -> None:
    name = f"kept-{uuid.uuid4().hex[:8]}"
    input_id = await create_input(api, name, {"n.txt": (b"42", "text/plain")})
    run = await submit(api, "import time; time.sleep(3)", input_ids=[input_id])
    job_id = (await api.gql(JOB_OF, {"id": run}))["run"]["job"]["id"]

    refused = (await api.gql(DELETE, {"id": input_id}))["deleteInput"]
    assert refused["deletedId"] is None
    assert [(e["field"], e["code"]) for e in refused["userErrors"]] == [("id", "IN_USE")]
    assert "1 unfinished run" in refused["userErrors"][0]["message"]
    assert (await api.gql(INPUT, {"id": input_id}))["input"] == {
        "name": name,
        "status": "READY",
    }

    assert (await api.gql(JOB_INPUTS, {"id": job_id}))["job"]["inputs"] == [
        {"name": name, "input": {"id": input_id, "name": name}}
    ]
    assert (await wait_outputs(api, run))["status"] == "COMPLETED"
    deleted = (await api.gql(DELETE, {"id": input_id}))["deleteInput"]
    assert deleted == {"deletedId": input_id, "userErrors": []}
    # The Job still says what it read.
    assert (await api.gql(JOB_INPUTS, {"id": job_id}))["job"]["inputs"] == [
        {"name": name, "input": None}
    ]

    # Its Job cannot be rerun now: the run would start without the data.
    rerun = (await api.gql(RERUN, {"jobId": job_id}))["rerunJob"]
    assert rerun["run"] is None
    assert [(e["field"], e["code"]) for e in rerun["userErrors"]] == [("jobId", "NOT_FOUND")]
    assert f"Input '{name}'" in rerun["userErrors"][0]["message"]
    assert (await api.gql(LATEST_RUN, {"id": job_id}))["job"]["latestRun"]["number"] == 1
