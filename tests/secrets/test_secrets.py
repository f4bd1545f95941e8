"""Platform secrets: write-only values in Kubernetes Secrets, injected into runs with envFrom."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.api.operations import CREATE_JOB, RUN_STATUS, job_input
from tests.inputs.test_rerun import LATEST_RUN, RERUN
from tests.secrets.operations import (
    CREATE_SECRET,
    DELETE_SECRET,
    SECRET,
    SECRETS,
    UPDATE_SECRET,
)
from tests.support.api import Api
from tests.support.kubectl import kubectl

VALUE = "s3cr3t-" + uuid.uuid4().hex  # distinctive, to grep for
ENCODED = base64.b64encode(VALUE.encode()).decode()
JOB_SECRETS = """query($id: ID!) { job(id: $id) { secrets { name secret { id keys } } } }"""


def leaks(lines: list[str]) -> list[str]:
    """Lines that carry the value, plainly or as Kubernetes stores it."""
    return [line for line in lines if VALUE in line or ENCODED in line]


class Capture(logging.Handler):
    """Every log record of every logger, formatted with its arguments and exception."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def logs() -> Iterator[Capture]:
    root = logging.getLogger()
    capture, level = Capture(), root.level
    root.addHandler(capture)
    root.setLevel(logging.DEBUG)
    try:
        yield capture
    finally:
        root.removeHandler(capture)
        root.setLevel(level)


def name() -> str:
    return f"s-{uuid.uuid4().hex[:10]}"


async def create(api: Api, secret_name: str, **data: str) -> dict[str, Any]:
    entries = [{"key": k, "value": v} for k, v in data.items()]
    payload = (await api.gql(CREATE_SECRET, {"name": secret_name, "data": entries}))["createSecret"]
    assert payload["userErrors"] == [], payload
    secret: dict[str, Any] = payload["secret"]
    return secret


async def kube_secret(api: Api, secret_id: str) -> dict[str, Any] | None:
    inner = base64.b64decode(secret_id).decode().split(":", 1)[1]
    out = await kubectl(
        api.kubeconfig, "get", "secrets", "-l", f"walkai.io/secret-id={inner}", "-o", "json",
        namespace=api.namespace,
    )  # fmt: skip
    items = json.loads(out)["items"]
    return items[0] if items else None


async def run_to_end(api: Api, run_id: str) -> dict[str, Any]:
    async with api.subscribe(RUN_STATUS, {"runId": run_id}) as sub:
        events = await asyncio.wait_for(sub.collect(), timeout=60)
    final: dict[str, Any] = events[-1]["runStatus"]
    return final


async def test_values_are_write_only_and_stored_in_a_labelled_kubernetes_secret(
    api: Api, logs: Capture
) -> None:
    created = await create(api, name(), API_KEY=VALUE, OTHER="x")
    assert created["keys"] == ["API_KEY", "OTHER"]
    listed = (await api.gql(SECRETS, {"first": 100}))["secrets"]["edges"]
    assert created["id"] in {e["node"]["id"] for e in listed}

    stored = await kube_secret(api, created["id"])
    assert stored is not None
    assert stored["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "walkai-jobs"
    assert base64.b64decode(stored["data"]["API_KEY"]).decode() == VALUE

    # Every way of reading the secret back shows keys, never values.
    everything = json.dumps(
        [
            await api.gql(SECRET, {"id": created["id"]}),
            await api.gql(SECRETS, {"first": 100}),
            await api.gql("query($id: ID!) { node(id: $id) { ... on Secret { keys } } }",
                          {"id": created["id"]}),
        ]
    )  # fmt: skip
    assert not leaks([everything])
    assert not leaks(logs.lines)


async def test_update_merges_or_replaces_keys(api: Api, logs: Capture) -> None:
    created = await create(api, name(), A="1", B="2")
    merged = (
        await api.gql(
            UPDATE_SECRET,
            {"id": created["id"], "data": [{"key": "C", "value": VALUE}], "removeKeys": ["A"]},
        )
    )["updateSecret"]
    assert merged["userErrors"] == [] and merged["secret"]["keys"] == ["B", "C"]
    stored = await kube_secret(api, created["id"])
    assert stored is not None and sorted(stored["data"]) == ["B", "C"]

    replaced = (
        await api.gql(
            UPDATE_SECRET,
            {"id": created["id"], "data": [{"key": "D", "value": "4"}], "mode": "REPLACE"},
        )
    )["updateSecret"]
    assert replaced["secret"]["keys"] == ["D"]
    stored = await kube_secret(api, created["id"])
    assert stored is not None and sorted(stored["data"]) == ["D"]
    assert not leaks(logs.lines)


async def test_invalid_input_creates_nothing_and_never_echoes_values(api: Api) -> None:
    bad = (
        await api.gql(
            CREATE_SECRET,
            {
                "name": "Not_A_DNS_Label",
                "data": [{"key": "1BAD", "value": VALUE}, {"key": "OK", "value": VALUE}],
            },
        )
    )["createSecret"]
    assert bad["secret"] is None
    assert {e["field"] for e in bad["userErrors"]} == {"name", "data.0.key"}
    assert VALUE not in json.dumps(bad)

    secret_name = name()
    await create(api, secret_name, K="v")
    duplicate = (
        await api.gql(CREATE_SECRET, {"name": secret_name, "data": [{"key": "K", "value": "w"}]})
    )["createSecret"]
    assert [e["code"] for e in duplicate["userErrors"]] == ["DUPLICATE"]


async def test_a_run_receives_the_secret_as_environment_variables(api: Api) -> None:
    secret_name = name()
    await create(api, secret_name, MY_KEY=VALUE)
    outcomes = {}
    for expected in (VALUE, "something-else"):
        payload = (
            await api.gql(
                CREATE_JOB,
                {
                    "input": job_input(
                        command=["sh", "-c", f'test "$MY_KEY" = "{expected}"'],
                        secretNames=[secret_name],
                    )
                },
            )
        )["createJob"]
        assert payload["userErrors"] == [], payload
        outcomes[expected] = (await run_to_end(api, payload["run"]["id"]))["exitCode"]
    assert outcomes == {VALUE: 0, "something-else": 1}


async def test_create_job_refuses_unknown_secret_names(api: Api) -> None:
    payload = (await api.gql(CREATE_JOB, {"input": job_input(secretNames=["no-such-secret"])}))[
        "createJob"
    ]
    assert payload["job"] is None
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [
        ("secretNames.0", "NOT_FOUND")
    ]


async def test_a_secret_that_unfinished_runs_need_cannot_be_deleted(api: Api) -> None:
    secret_name = name()
    secret = await create(api, secret_name, K="v")
    payload = (
        await api.gql(
            CREATE_JOB,
            {"input": job_input(command=["sh", "-c", "sleep 3"], secretNames=[secret_name])},
        )
    )["createJob"]
    assert (await api.gql(JOB_SECRETS, {"id": payload["job"]["id"]}))["job"]["secrets"] == [
        {"name": secret_name, "secret": {"id": secret["id"], "keys": ["K"]}}
    ]
    refused = (await api.gql(DELETE_SECRET, {"id": secret["id"]}))["deleteSecret"]
    assert refused["deletedId"] is None
    assert [e["code"] for e in refused["userErrors"]] == ["IN_USE"]
    assert "unfinished run" in refused["userErrors"][0]["message"]

    await run_to_end(api, payload["run"]["id"])
    deleted = (await api.gql(DELETE_SECRET, {"id": secret["id"]}))["deleteSecret"]
    assert deleted == {"deletedId": secret["id"], "userErrors": []}
    assert await kube_secret(api, secret["id"]) is None
    assert (await api.gql(SECRET, {"id": secret["id"]}))["secret"] is None

    # Its Job still names it, and cannot be rerun now: its runs would lack the variables.
    job_id = payload["job"]["id"]
    assert (await api.gql(JOB_SECRETS, {"id": job_id}))["job"]["secrets"] == [
        {"name": secret_name, "secret": None}
    ]
    rerun = (await api.gql(RERUN, {"jobId": job_id}))["rerunJob"]
    assert rerun["run"] is None
    assert [(e["field"], e["code"]) for e in rerun["userErrors"]] == [("jobId", "NOT_FOUND")]
    assert f"Secret '{secret_name}'" in rerun["userErrors"][0]["message"]
    assert (await api.gql(LATEST_RUN, {"id": job_id}))["job"]["latestRun"]["number"] == 1
