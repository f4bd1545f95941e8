"""Inputs end to end: declare, upload through presigned URLs, finalize, read them in a run;
promote a run's outputs; delete; and every bad declaration refused with nothing stored."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from app.sidecar.credentials import upload_prefix
from app.storage.s3 import S3ObjectStore
from tests.artifacts.flows import CREATE_JOB, artifacts, download, submit, wait_outputs
from tests.logs.conftest import all_pages, follow_logs, lines_of
from tests.support.api import Api
from tests.support.graphql import node_uuid

CREATE_INPUT = """
mutation($input: CreateInputInput!) {
  createInput(input: $input) {
    input { id name status totalSize fileCount }
    uploads { path url contentType expiresAt }
    userErrors { field message code }
  }
}"""

FINALIZE = """
mutation($id: ID!) {
  finalizeInput(id: $id) {
    input { id status totalSize files { path size contentType } }
    userErrors { field message code }
  }
}"""

INPUTS = """
query($first: Int, $after: String) {
  inputs(first: $first, after: $after) {
    edges { node { id name status totalSize fileCount files { path size } } }
    pageInfo { hasNextPage endCursor }
  }
}"""

PROMOTE = """
mutation($runId: ID!, $name: String!) {
  promoteRunOutputs(runId: $runId, name: $name) {
    input { id name status totalSize fileCount files { path size contentType } }
    userErrors { field message code }
  }
}"""

DELETE = """
mutation($id: ID!) { deleteInput(id: $id) { deletedId userErrors { field code } } }"""

FILES = {
    "data/train.csv": (b"x,y\n1,2\n3,4\n", "text/csv"),
    "config.json": (b'{"lr": 0.1}', "application/json"),
    "weights/empty.bin": (b"", None),
}


async def create_input(api: Api, name: str, files: dict[str, tuple[bytes, str | None]]) -> str:
    """Declare, upload and finalize an input; returns its id."""
    declared = [
        {"path": path, "size": len(data), **({"contentType": ct} if ct else {})}
        for path, (data, ct) in files.items()
    ]
    created = (await api.gql(CREATE_INPUT, {"input": {"name": name, "files": declared}}))[
        "createInput"
    ]
    assert created["userErrors"] == []
    assert created["input"]["status"] == "PENDING"
    async with httpx.AsyncClient(timeout=30) as http:
        for upload in created["uploads"]:
            data = files[upload["path"]][0]
            response = await http.put(
                upload["url"], content=data, headers={"Content-Type": upload["contentType"]}
            )
            assert response.status_code == 200, response.text
    final = (await api.gql(FINALIZE, {"id": created["input"]["id"]}))["finalizeInput"]
    assert final["userErrors"] == []
    assert final["input"]["status"] == "READY"
    input_id: str = created["input"]["id"]
    return input_id


async def inputs_named(api: Api, name: str) -> list[dict[str, Any]]:
    nodes = [e["node"] for e in (await api.gql(INPUTS, {"first": 100}))["inputs"]["edges"]]
    return [n for n in nodes if n["name"] == name]


COPY_INPUT = """
import os, pathlib, shutil
src = pathlib.Path(os.environ["WALKAI_INPUT_DIR"])
out = pathlib.Path(os.environ["WALKAI_OUTPUT_DIR"])
shutil.copytree(src, out / "seen")
"""


async def test_a_run_reads_its_inputs(stack: Api) -> None:
    name = f"dataset-{stack.namespace}"
    input_id = await create_input(stack, name, FILES)
    (listed,) = await inputs_named(stack, name)
    assert listed["status"] == "READY"
    assert listed["totalSize"] == sum(len(d) for d, _ in FILES.values())
    assert sorted(f["path"] for f in listed["files"]) == sorted(FILES)

    run_id = await submit(stack, COPY_INPUT, input_ids=[input_id])
    run = await wait_outputs(stack, run_id)
    assert (run["status"], run["outputsStatus"]["status"]) == ("COMPLETED", "UPLOADED")
    found = {a["path"]: a for a in await artifacts(stack, run_id)}
    assert sorted(found) == sorted(f"seen/{name}/{path}" for path in FILES)
    for path, (data, _) in FILES.items():
        response = await download(found[f"seen/{name}/{path}"]["downloadUrl"])
        assert response.content == data
    # The init container that fetched the inputs, and the upload sidecar, are read by name.
    fetched = await all_pages(stack, run_id, 100, container="inputs")
    assert any("inputs ready in" in line["text"] for line in fetched), fetched
    uploaded = await all_pages(stack, run_id, 100, container="outputs")
    assert {line["stream"] for line in fetched + uploaded} == {"inputs", "outputs"}
    assert await all_pages(stack, run_id, 100, container="nonexistent") == []
    # The subscription, filtered the same way, says the same.
    assert lines_of(await follow_logs(stack, run_id, container="inputs")) == fetched
    assert lines_of(await follow_logs(stack, run_id, container="outputs")) == uploaded


async def test_promoted_outputs_become_an_input_and_can_be_deleted(stack: Api) -> None:
    script = (
        "import os, pathlib\n"
        "out = pathlib.Path(os.environ['WALKAI_OUTPUT_DIR'])\n"
        "(out / 'model').mkdir()\n"
        "(out / 'model' / 'w.bin').write_bytes(b'weights')\n"
        "(out / 'metrics.json').write_text('{}')\n"
    )
    run_id = await submit(stack, script)
    await wait_outputs(stack, run_id)
    name = f"promoted-{stack.namespace}"
    result = (await stack.gql(PROMOTE, {"runId": run_id, "name": name}))["promoteRunOutputs"]
    assert result["userErrors"] == []
    promoted = result["input"]
    assert (promoted["status"], promoted["fileCount"], promoted["totalSize"]) == ("READY", 2, 9)
    assert {f["path"]: f["contentType"] for f in promoted["files"]} == {
        "metrics.json": "application/json",
        "model/w.bin": "application/octet-stream",
    }
    again = (await stack.gql(PROMOTE, {"runId": run_id, "name": name}))["promoteRunOutputs"]
    assert [(e["field"], e["code"]) for e in again["userErrors"]] == [("name", "DUPLICATE")]

    reader = await submit(
        stack,
        "import os; p = os.environ['WALKAI_INPUT_DIR']; "
        f"assert open(p + '/{name}/model/w.bin', 'rb').read() == b'weights'",
        input_ids=[promoted["id"]],
    )
    assert (await wait_outputs(stack, reader))["status"] == "COMPLETED"

    deleted = (await stack.gql(DELETE, {"id": promoted["id"]}))["deleteInput"]
    assert deleted == {"deletedId": promoted["id"], "userErrors": []}
    assert await inputs_named(stack, name) == []
    page = await stack.platform.store.list(f"inputs/{promoted['id']}")
    assert page.objects == []


async def test_finalize_checks_every_file_arrived_whole(api: Api) -> None:
    declared = [{"path": "a.txt", "size": 3}, {"path": "b.txt", "size": 2}]
    created = (await api.gql(CREATE_INPUT, {"input": {"name": "partial", "files": declared}}))[
        "createInput"
    ]
    urls = {u["path"]: u for u in created["uploads"]}
    async with httpx.AsyncClient() as http:
        refused_put = await http.put(
            urls["a.txt"]["url"], content=b"abcd", headers={"Content-Type": "text/plain"}
        )
    assert refused_put.status_code == 400  # the URL is signed for 3 bytes
    # What an S3 store that does not check the signed length would keep:
    key = upload_prefix(node_uuid(created["input"]["id"])) + "a.txt"
    await api.platform.store.put(key, b"abcd")
    final = (await api.gql(FINALIZE, {"id": created["input"]["id"]}))["finalizeInput"]
    assert [(e["field"], e["code"]) for e in final["userErrors"]] == [
        ("files.0.size", "INVALID"),
        ("files.1.path", "NOT_FOUND"),
    ]
    assert final["input"]["status"] == "PENDING"

    job = {
        "image": "python:3.11",
        "gpu": "1g.10gb",
        "storageGi": 1,
        "command": ["true"],
        "inputIds": [created["input"]["id"], "SW5wdXQ6bm90LWEtdXVpZA=="],
    }
    refused = (await api.gql(CREATE_JOB, {"input": job}))["createJob"]
    assert refused["run"] is None
    assert [(e["field"], e["code"]) for e in refused["userErrors"]] == [
        ("inputIds.0", "INVALID"),
        ("inputIds.1", "NOT_FOUND"),
    ]


async def test_bad_declarations_are_refused_and_nothing_is_stored(api: Api) -> None:
    before = (await api.gql(INPUTS, {"first": 100}))["inputs"]["edges"]
    files = [
        {"path": "../escape.txt", "size": 1},
        {"path": "/etc/passwd", "size": 1},
        {"path": "ok.txt", "size": 1},
        {"path": "ok.txt", "size": 1},
        {"path": "huge.bin", "size": 6 << 30},
        {"path": "odd.dat", "size": 1, "contentType": "application/x-made-up"},
        {"path": "a/./b", "size": 1},
        {"path": "neg.bin", "size": -1},
    ]
    result = (await api.gql(CREATE_INPUT, {"input": {"name": "../bad", "files": files}}))[
        "createInput"
    ]
    assert result["input"] is None and result["uploads"] == []
    assert [(e["field"], e["code"]) for e in result["userErrors"]] == [
        ("name", "INVALID"),
        ("files.0.path", "INVALID"),
        ("files.1.path", "INVALID"),
        ("files.3.path", "DUPLICATE"),
        ("files.4.size", "OUT_OF_RANGE"),
        ("files.5.contentType", "INVALID"),
        ("files.6.path", "INVALID"),
        ("files.7.size", "OUT_OF_RANGE"),
    ]
    assert (await api.gql(INPUTS, {"first": 100}))["inputs"]["edges"] == before


async def test_presigned_urls_expire(stack: Api) -> None:
    store = stack.platform.store
    await store.put(f"expiry/{stack.namespace}", b"soon gone")
    url = await store.presign_get(f"expiry/{stack.namespace}", expires_in=1)
    assert (await download(url)).content == b"soon gone"
    if isinstance(store, S3ObjectStore):
        # moto does not enforce expiry; S3 enforces what the SigV4 signature covers.
        query = parse_qs(urlsplit(url).query)
        assert query["X-Amz-Expires"] == ["1"]
        assert query["X-Amz-Signature"]
        return
    await asyncio.sleep(2.2)
    assert (await download(url)).status_code == 403
