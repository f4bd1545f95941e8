"""rerunJob: the same Job again, with the next number and the same inputs."""

from __future__ import annotations

from tests.artifacts.flows import submit, wait_outputs
from tests.inputs.test_inputs import create_input
from tests.support.api import Api

RERUN = """
mutation($jobId: ID!) {
  rerunJob(jobId: $jobId) { job { id } run { id number } userErrors { field code } }
}"""

JOB_OF = """query($id: ID!) { run(id: $id) { number job { id } } }"""

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
    assert refused["userErrors"] == [{"field": "jobId", "code": "NOT_FOUND"}]
