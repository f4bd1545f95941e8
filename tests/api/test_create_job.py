"""createJob through GraphQL: a valid Job reaches the cluster; bad input creates nothing."""

from __future__ import annotations

import json

import pytest

from app.db.models import Job, Run
from tests.api.operations import CREATE_JOB, RUN, job_input
from tests.support.api import Api
from tests.support.kubectl import kubectl


async def test_create_job_creates_a_kubernetes_job(api: Api) -> None:
    data = await api.gql(
        CREATE_JOB,
        {
            "input": job_input(
                name="train-small",
                gpu="2g.20gb",
                storageGi=3,
                env=[{"name": "LR", "value": "0.1"}],
                priority="HIGH",
                args=["--epochs", "1"],
            )
        },
    )
    payload = data["createJob"]
    assert payload["userErrors"] == []
    job, run = payload["job"], payload["run"]
    assert job["name"] == "train-small" and job["gpu"] == "2g.20gb" and job["priority"] == "HIGH"
    assert run["number"] == 1 and run["status"] in ("SUBMITTED", "PENDING", "RUNNING")

    run_row = await Run.get(number=1, job__name="train-small")
    manifest = json.loads(
        await kubectl(
            api.kubeconfig, "get", "job", run_row.kube_name, "-o", "json", namespace=api.namespace
        )
    )
    labels = manifest["metadata"]["labels"]
    assert labels["walkai.io/run-id"] == str(run_row.id)
    assert manifest["spec"]["backoffLimit"] == 0
    pod_spec = manifest["spec"]["template"]["spec"]
    assert pod_spec["priorityClassName"] == "walkai-high"
    main = pod_spec["containers"][0]
    assert main["resources"]["limits"]["nvidia.com/mig-2g.20gb"] in (1, "1")
    assert {"name": "LR", "value": "0.1"} in main["env"]
    assert pod_spec["volumes"][0]["emptyDir"]["sizeLimit"] == "3Gi"

    fetched = await api.gql(RUN, {"id": run["id"]})
    assert fetched["run"]["job"]["id"] == job["id"]
    assert fetched["run"]["timeline"][0]["status"] == "SUBMITTED"


@pytest.mark.parametrize(
    ("overrides", "field", "code"),
    [
        ({"image": "Not A Ref"}, "image", "INVALID"),
        ({"image": ""}, "image", "REQUIRED"),
        ({"gpu": "5g.50gb"}, "gpu", "UNKNOWN_GPU_PROFILE"),
        ({"storageGi": 0}, "storageGi", "OUT_OF_RANGE"),
        ({"storageGi": 100_000}, "storageGi", "OUT_OF_RANGE"),
        ({"name": "Bad_Name"}, "name", "INVALID"),
        ({"env": [{"name": "9X", "value": ""}]}, "env.0.name", "INVALID"),
        ({"env": [{"name": "WALKAI_RUN_ID", "value": "x"}]}, "env.0.name", "RESERVED"),
        (
            {"env": [{"name": "A", "value": "1"}, {"name": "A", "value": "2"}]},
            "env.1.name",
            "DUPLICATE",
        ),
        ({"command": ["x" * 20_000]}, "command.0", "TOO_LONG"),
    ],
)
async def test_invalid_input_names_the_field_and_creates_nothing(
    api: Api, overrides: dict[str, object], field: str, code: str
) -> None:
    jobs_before, runs_before = await Job.all().count(), await Run.all().count()
    payload = (await api.gql(CREATE_JOB, {"input": job_input(**overrides)}))["createJob"]
    assert payload["job"] is None and payload["run"] is None
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [(field, code)]
    assert payload["userErrors"][0]["message"]
    assert (await Job.all().count(), await Run.all().count()) == (jobs_before, runs_before)


async def test_graphql_type_errors_are_reported_without_internals(api: Api) -> None:
    body = await api.http.execute(CREATE_JOB, {"input": {"image": "x", "gpu": "1g.10gb"}})
    assert body.get("data") is None
    (error,) = body["errors"]
    assert "storageGi" in error["message"]
    assert "Traceback" not in json.dumps(body)


async def test_cluster_refusal_fails_the_run_with_a_clear_message(api: Api) -> None:
    api.cluster.faults.fail_next(
        1, 500, path_prefix=f"/apis/batch/v1/namespaces/{api.namespace}/jobs"
    )
    payload = (await api.gql(CREATE_JOB, {"input": job_input(name="refused")}))["createJob"]
    assert payload["job"]["name"] == "refused"
    assert payload["run"]["status"] == "FAILED"
    assert payload["run"]["reason"] == "SubmitFailed"
    (error,) = payload["userErrors"]
    assert error["code"] == "CLUSTER_UNAVAILABLE" and error["field"] is None
    assert "500" in error["message"]
    fetched = await api.gql(RUN, {"id": payload["run"]["id"]})
    assert fetched["run"]["status"] == "FAILED"
    assert [e["status"] for e in fetched["run"]["timeline"]] == ["SUBMITTED", "FAILED"]


async def test_text_with_nul_is_refused_as_an_input_error_and_creates_nothing(api: Api) -> None:
    jobs_before = await Job.all().count()
    body = await api.http.execute(
        CREATE_JOB, {"input": job_input(env=[{"name": "A", "value": "x\x00y"}])}
    )
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "$input.env.0.value" in error["message"]
    assert await Job.all().count() == jobs_before
