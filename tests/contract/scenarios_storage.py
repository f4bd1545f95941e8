"""End-to-end scenarios of Secrets, Inputs, a run's artifacts, and "run again"."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any
from urllib.parse import urlsplit

import httpx

from tests.contract.contract import operation
from tests.contract.scenarios import ContractData, scenario, submit
from tests.support.api import Api


def local(api: Api, url: str) -> str:
    """A signed URL of the local store, asked of the test API (it listens on a free port)."""
    parts = urlsplit(url)
    return f"{api.base_url}{parts.path}?{parts.query}"


def unique(tag: str) -> str:
    return f"{tag}-{uuid.uuid4().hex[:6]}"


# Secrets --------------------------------------------------------------------------------------


async def create_secret(api: Api, name: str, **keys: str) -> dict[str, Any]:
    data = [{"key": k, "value": v} for k, v in keys.items()]
    made = (await api.gql(operation("CreateSecret"), {"name": name, "data": data}))["createSecret"]
    assert made["userErrors"] == [], made["userErrors"]
    secret: dict[str, Any] = made["secret"]
    return secret


def secret_rows(shown: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["node"]["name"]: e["node"] for e in shown["secrets"]["edges"]}


@scenario("CreateSecret")
async def create_secret_scenario(api: Api, data: ContractData) -> None:
    name = unique("contract-db")
    secret = await create_secret(api, name, DB_URL="postgres://u:p@db/x", DB_USER="u")
    assert secret["name"] == name and sorted(secret["keys"]) == ["DB_URL", "DB_USER"]
    assert secret["createdAt"] and "value" not in secret
    again = (
        await api.gql(
            operation("CreateSecret"), {"name": name, "data": [{"key": "A", "value": "b"}]}
        )
    )["createSecret"]
    assert again["secret"] is None and again["userErrors"][0]["code"] == "DUPLICATE"


@scenario("SecretsList")
async def secrets_list(api: Api, data: ContractData) -> None:
    name = unique("contract-list")
    await create_secret(api, name, TOKEN="t")
    rows = secret_rows(await api.gql(operation("SecretsList")))
    assert rows[name]["keys"] == ["TOKEN"]
    other = await api.as_new_user()
    assert name not in secret_rows(await other.gql(operation("SecretsList"))), "owners only"


@scenario("UpdateSecret")
async def update_secret(api: Api, data: ContractData) -> None:
    secret = await create_secret(api, unique("contract-upd"), A="1", B="2")
    merge = {"data": [{"key": "C", "value": "3"}], "mode": "MERGE", "removeKeys": ["A"]}
    merged = (await api.gql(operation("UpdateSecret"), {"id": secret["id"], **merge}))[
        "updateSecret"
    ]
    assert merged["userErrors"] == [] and sorted(merged["secret"]["keys"]) == ["B", "C"]
    replaced = (
        await api.gql(
            operation("UpdateSecret"),
            {"id": secret["id"], "data": [{"key": "D", "value": "4"}], "mode": "REPLACE"},
        )
    )["updateSecret"]
    assert replaced["secret"]["keys"] == ["D"]


@scenario("DeleteSecret")
async def delete_secret(api: Api, data: ContractData) -> None:
    secret = await create_secret(api, unique("contract-del"), A="1")
    deleted = (await api.gql(operation("DeleteSecret"), {"id": secret["id"]}))["deleteSecret"]
    assert deleted == {"deletedId": secret["id"], "userErrors": []}
    assert secret["name"] not in secret_rows(await api.gql(operation("SecretsList")))


# Inputs ---------------------------------------------------------------------------------------

FILES = {"data/train.csv": b"x,y\n1,2\n", "config.json": b'{"lr": 0.1}'}


async def create_input(api: Api, name: str) -> dict[str, Any]:
    """Declare, upload through the presigned URLs, finalize: as the Inputs screen does."""
    files = [{"path": p, "size": len(b)} for p, b in FILES.items()]
    made = (await api.gql(operation("CreateInput"), {"input": {"name": name, "files": files}}))[
        "createInput"
    ]
    assert made["userErrors"] == [] and made["input"]["status"] == "PENDING"
    assert {u["path"] for u in made["uploads"]} == set(FILES)
    async with httpx.AsyncClient(timeout=30) as http:
        for upload in made["uploads"]:
            put = await http.put(
                local(api, upload["url"]),
                content=FILES[upload["path"]],
                headers={"Content-Type": upload["contentType"]},
            )
            assert put.status_code == 200, put.text
    final = (await api.gql(operation("FinalizeInput"), {"id": made["input"]["id"]}))[
        "finalizeInput"
    ]
    assert final["userErrors"] == []
    created: dict[str, Any] = final["input"]
    return created


@scenario("CreateInput")
async def create_input_scenario(api: Api, data: ContractData) -> None:
    bad = (await api.gql(operation("CreateInput"), {"input": {"name": "x", "files": []}}))[
        "createInput"
    ]
    assert bad["input"] is None and bad["userErrors"]
    made = await create_input(api, unique("contract-in"))
    assert made["status"] == "PENDING" or made["status"] == "READY"


@scenario("FinalizeInput")
async def finalize_input(api: Api, data: ContractData) -> None:
    made = await create_input(api, unique("contract-fin"))
    assert made["status"] == "READY" and made["fileCount"] == 2 and made["finalizedAt"]
    assert made["totalSize"] == sum(len(b) for b in FILES.values())


@scenario("InputsList")
async def inputs_list(api: Api, data: ContractData) -> None:
    made = await create_input(api, unique("contract-ls"))
    rows = {e["node"]["id"]: e["node"] for e in (await api.gql(operation("InputsList")))[
        "inputs"]["edges"]}  # fmt: skip
    assert rows[made["id"]]["status"] == "READY" and rows[made["id"]]["fileCount"] == 2


@scenario("InputDetail")
async def input_detail(api: Api, data: ContractData) -> None:
    made = await create_input(api, unique("contract-detail"))
    shown = (await api.gql(operation("InputDetail"), {"id": made["id"]}))["input"]
    assert {(f["path"], f["size"]) for f in shown["files"]} == {
        (p, len(b)) for p, b in FILES.items()
    }
    assert all(f["contentType"] for f in shown["files"])


@scenario("DeleteInput")
async def delete_input(api: Api, data: ContractData) -> None:
    made = await create_input(api, unique("contract-rm"))
    deleted = (await api.gql(operation("DeleteInput"), {"id": made["id"]}))["deleteInput"]
    assert deleted == {"deletedId": made["id"], "userErrors": []}
    assert (await api.gql(operation("InputDetail"), {"id": made["id"]}))["input"] is None


# Outputs --------------------------------------------------------------------------------------


async def uploaded(api: Api, run_id: str, name: str = "RunArtifacts") -> dict[str, Any]:
    """The run once its outputs are in object storage."""
    for _ in range(600):
        run: dict[str, Any] = (await api.gql(operation(name), {"id": run_id}))["run"]
        if run["outputsStatus"]["status"] in ("UPLOADED", "FAILED"):
            return run
        await asyncio.sleep(0.1)
    raise AssertionError("outputs never uploaded")


@scenario("RunArtifacts")
async def run_artifacts(api: Api, data: ContractData) -> None:
    run = await uploaded(api, data.completed["run"]["id"])
    assert run["outputsStatus"]["status"] == "UPLOADED"
    (artifact,) = [e["node"] for e in run["artifacts"]["edges"]]
    assert (artifact["path"], artifact["size"]) == ("metrics.txt", 5)
    assert artifact["lastModified"] and artifact["contentType"]
    async with httpx.AsyncClient() as http:
        body = await http.get(local(api, artifact["downloadUrl"]))
    assert body.text == "0.93\n"


@scenario("CliArtifacts")
async def cli_artifacts(api: Api, data: ContractData) -> None:
    run = await uploaded(api, data.completed["run"]["id"], "CliArtifacts")
    files = [(e["node"]["path"], e["node"]["size"]) for e in run["artifacts"]["edges"]]
    assert files == [("metrics.txt", 5)] and run["artifacts"]["pageInfo"]["hasNextPage"] is False


@scenario("PromoteRunOutputs")
async def promote_run_outputs(api: Api, data: ContractData) -> None:
    await uploaded(api, data.completed["run"]["id"])
    variables = {"runId": data.completed["run"]["id"], "name": unique("contract-promoted")}
    promoted = (await api.gql(operation("PromoteRunOutputs"), variables))["promoteRunOutputs"]
    assert promoted["userErrors"] == []
    assert promoted["input"]["status"] == "READY" and promoted["input"]["fileCount"] == 1


# Job detail and the submit form ---------------------------------------------------------------


@scenario("RerunJob")
async def rerun_job(api: Api, data: ContractData) -> None:
    job_id = data.failed["job"]["id"]
    again = (await api.gql(operation("RerunJob"), {"jobId": job_id}))["rerunJob"]
    assert again["userErrors"] == [] and again["run"]["number"] == 2
    assert again["job"]["latestRun"]["id"] == again["run"]["id"]
    assert again["run"]["status"] in ("SUBMITTED", "PENDING", "RUNNING")
    # Run again with changes: the new run says what it runs with; the form's mistakes are named.
    overrides = {"priority": "LOW", "maxRuntimeSeconds": 60, "command": ["true"]}
    changed = (await api.gql(operation("RerunJob"), {"jobId": job_id, "overrides": overrides}))[
        "rerunJob"
    ]
    assert changed["userErrors"] == [] and changed["run"]["number"] == 3
    run = changed["run"]
    assert (run["priority"], run["maxRuntimeSeconds"], run["command"]) == ("LOW", 60, ["true"])
    bad = {"env": [{"name": "WALKAI_X", "value": "1"}]}
    refused = (await api.gql(operation("RerunJob"), {"jobId": job_id, "overrides": bad}))[
        "rerunJob"
    ]
    assert refused["run"] is None
    assert [(e["field"], e["code"]) for e in refused["userErrors"]] == [
        ("overrides.env.0.name", "RESERVED")
    ]


@scenario("DeleteJob")
async def delete_job(api: Api, data: ContractData) -> None:
    created = await submit(api, name=unique("contract-delete"), command=["sh", "-c", "sleep 30"])
    job_id, run_id = created["job"]["id"], created["run"]["id"]
    busy = (await api.gql(operation("DeleteJob"), {"id": job_id}))["deleteJob"]
    assert busy["deletedId"] is None
    assert [(e["field"], e["code"]) for e in busy["userErrors"]] == [("id", "IN_USE")]
    await api.gql(operation("CancelRun"), {"runId": run_id})
    deleted = (await api.gql(operation("DeleteJob"), {"id": job_id}))["deleteJob"]
    assert deleted == {"deletedId": job_id, "runCount": 1, "userErrors": []}
    assert (await api.gql(operation("JobDetail"), {"id": job_id}))["job"] is None


@scenario("SubmitFormOptions")
async def submit_form_options(api: Api, data: ContractData) -> None:
    secret = await create_secret(api, unique("contract-form"), KEY="v")
    made = await create_input(api, unique("contract-form"))
    options = await api.gql(operation("SubmitFormOptions"))
    profiles = options["gpuProfiles"]
    assert profiles[0]["name"] == "1g.10gb" and profiles[0]["memoryGb"] == 10
    assert [p["computeSlices"] for p in profiles] == sorted(p["computeSlices"] for p in profiles)
    assert secret["name"] in {e["node"]["name"] for e in options["secrets"]["edges"]}
    assert made["id"] in {e["node"]["id"] for e in options["inputs"]["edges"]}
    # The form's choices are accepted by SubmitJob.
    job = await submit(
        api, name=unique("contract-form"), command=["true"], secretNames=[secret["name"]],
        inputIds=[made["id"]],
    )  # fmt: skip
    assert job["job"]["name"].startswith("contract-form")
