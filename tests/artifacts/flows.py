"""What the outputs and inputs tests do through the API: submit, wait, list, download."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from tests.support.api import Api

CREATE_JOB = """
mutation($input: CreateJobInput!) {
  createJob(input: $input) { run { id } userErrors { field message code } }
}"""

RUN_OUTPUTS = """
query($id: ID!) {
  run(id: $id) { status exitCode outputsStatus { status message } }
}"""

ARTIFACTS = """
query($id: ID!, $first: Int, $after: String, $prefix: String) {
  run(id: $id) {
    artifacts(first: $first, after: $after, prefix: $prefix) {
      edges { cursor node { path size contentType lastModified downloadUrl } }
      pageInfo { hasNextPage endCursor }
    }
  }
}"""


async def submit(api: Api, script: str, input_ids: list[str] | None = None) -> str:
    """Start a Job whose main container runs `script` with Python; returns the run's id."""
    job: dict[str, Any] = {
        "image": "python:3.11",
        "gpu": "1g.10gb",
        "storageGi": 1,
        "command": ["python", "-c", script],
    }
    if input_ids:
        job["inputIds"] = input_ids
    payload = (await api.gql(CREATE_JOB, {"input": job}))["createJob"]
    assert payload["userErrors"] == [], payload["userErrors"]
    run_id: str = payload["run"]["id"]
    return run_id


async def wait_outputs(api: Api, run_id: str, timeout: float = 90) -> dict[str, Any]:
    """The run once its outputs are settled (UPLOADED or FAILED)."""
    deadline = time.monotonic() + timeout
    while True:
        run: dict[str, Any] = (await api.gql(RUN_OUTPUTS, {"id": run_id}))["run"]
        if run["outputsStatus"]["status"] in ("UPLOADED", "FAILED"):
            return run
        assert time.monotonic() < deadline, f"outputs still {run['outputsStatus']}"
        await asyncio.sleep(0.2)


async def artifacts(api: Api, run_id: str, **args: Any) -> list[dict[str, Any]]:
    """Every artifact of the run, following the pages."""
    found: list[dict[str, Any]] = []
    after = None
    while True:
        data = await api.gql(ARTIFACTS, {"id": run_id, "after": after, **args})
        page = data["run"]["artifacts"]
        found += [edge["node"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return found
        after = page["pageInfo"]["endCursor"]


async def download(url: str) -> httpx.Response:
    """GET a presigned URL with a client that holds no credential."""
    async with httpx.AsyncClient(timeout=60) as http:
        return await http.get(url)
