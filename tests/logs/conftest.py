"""Fixtures and helpers of the log tests: runs that print, and the operations that read logs."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlsplit

import httpx

from tests.api.operations import CREATE_JOB, RUN_STATUS, job_input
from tests.support.api import Api
from tests.support.graphql import node_uuid

LINE = "cursor timestamp text stream attempt"

RUN_LOGS = f"""
subscription RunLogs($runId: ID!, $after: String, $container: String) {{
  runLogs(runId: $runId, after: $after, container: $container) {{
    lines {{ {LINE} }} lagged endCursor
  }}
}}
"""

LOGS_PAGE = f"""
query Logs($id: ID!, $first: Int, $after: String, $last: Int, $before: String,
           $container: String) {{
  run(id: $id) {{
    status
    logs(first: $first, after: $after, last: $last, before: $before, container: $container) {{
      edges {{ cursor node {{ {LINE} }} }}
      pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }}
    }}
  }}
}}
"""

DOWNLOAD = """
query Download($id: ID!, $container: String) {
  run(id: $id) { logDownloadUrl(container: $container) }
}
"""


def printing(lines: int, *, width: int = 0, sleep: float = 0, then: str = "") -> list[str]:
    """A command printing `lines` numbered lines (padded to `width`), pausing `sleep` each."""
    pad = f"{{:0{width}d}}" if width else "{}"
    script = (
        "import sys, time\n"
        f"for i in range({lines}):\n"
        f"    sys.stdout.write('line ' + {pad!r}.format(i) + '\\n')\n"
        f"    if {sleep}: sys.stdout.flush(); time.sleep({sleep})\n"
        "sys.stdout.flush()\n"
        f"{then}\n"
    )
    return ["python", "-c", script]


def expected(lines: int, *, width: int = 0) -> list[str]:
    """What `printing(lines, width=…)` prints."""
    pad = f"{{:0{width}d}}" if width else "{}"
    return ["line " + pad.format(i) for i in range(lines)]


async def start_run(api: Api, command: list[str], **overrides: object) -> str:
    """Create a Job running `command`; the run's global id."""
    payload = (await api.gql(CREATE_JOB, {"input": job_input(command=command, **overrides)}))[
        "createJob"
    ]
    assert payload["userErrors"] == [], payload["userErrors"]
    run_id: str = payload["run"]["id"]
    return run_id


async def wait_status(api: Api, run_id: str, *statuses: str) -> dict[str, Any]:
    """Follow runStatus until the run reaches one of `statuses`."""
    async with api.subscribe(RUN_STATUS, {"runId": run_id}) as sub:
        while True:
            event = await asyncio.wait_for(sub.next(), timeout=60)
            assert event is not None, f"the run ended before reaching {statuses}"
            run: dict[str, Any] = event["runStatus"]
            if run["status"] in statuses:
                return run


async def follow_logs(
    api: Api, run_id: str, *, after: str | None = None, container: str | None = None
) -> list[dict[str, Any]]:
    """Every batch of runLogs until the server completes the subscription."""
    variables = {"runId": run_id, "after": after, "container": container}
    async with api.subscribe(RUN_LOGS, variables) as sub:
        batches = await asyncio.wait_for(sub.collect(), timeout=90)
    return [b["runLogs"] for b in batches]


def lines_of(batches: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The lines of several batches, in order."""
    return [line for batch in batches for line in batch["lines"]]


async def all_pages(api: Api, run_id: str, size: int, **args: Any) -> list[dict[str, Any]]:
    """Every line of the run through `logs(first, after)`, `size` at a time."""
    out: list[dict[str, Any]] = []
    after = None
    while True:
        data = await api.gql(LOGS_PAGE, {"id": run_id, "first": size, "after": after, **args})
        logs = data["run"]["logs"]
        out.extend(edge["node"] for edge in logs["edges"])
        if not logs["pageInfo"]["hasNextPage"]:
            return out
        after = logs["pageInfo"]["endCursor"]


async def download(api: Api, run_id: str, container: str | None = None) -> str:
    """The archived log through logDownloadUrl."""
    data = await api.gql(DOWNLOAD, {"id": run_id, "container": container})
    url = data["run"]["logDownloadUrl"]
    assert url, "no archive yet"
    # The local store signs URLs for the configured public address; the test API listens on a
    # free port instead, so the same path and signature are asked of it.
    parts = urlsplit(url)
    async with httpx.AsyncClient() as http:
        response = await http.get(f"{api.base_url}{parts.path}?{parts.query}")
    response.raise_for_status()
    return response.text


async def wait_archived(api: Api, run_id: str) -> None:
    """Until the run's log is archived (the subscription completing says so)."""
    await follow_logs(api, run_id)
    assert await api.platform.logs.archive(node_uuid(run_id)) is not None
