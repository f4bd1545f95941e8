"""Listing Jobs: newest first, keyset pages, status filter, node lookup, bounded SQL per page."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from strawberry.relay import from_base64, to_base64

from app.db.auth_models import User
from app.db.models import Job, Run, RunEvent
from app.domain.status import RunStatus
from tests.api.operations import CREATE_JOB, JOBS, RUN_STATUS, job_input
from tests.secrets.operations import CREATE_SECRET
from tests.support.api import Api, QueryCounter

NODE = """
query Node($id: ID!) {
  node(id: $id) { __typename id ... on Job { name } ... on Run { number status } }
}
"""

GPU_PROFILES = "{ gpuProfiles { name memoryGb computeSlices gpuModel } }"


async def create_jobs(api: Api, prefix: str, count: int) -> list[dict[str, Any]]:
    created = []
    for i in range(count):
        payload = (
            await api.gql(CREATE_JOB, {"input": job_input(name=f"{prefix}-{i}", command=["true"])})
        )["createJob"]
        assert payload["userErrors"] == []
        created.append(payload)
    return created


async def all_pages(api: Api, size: int, **variables: Any) -> list[dict[str, Any]]:
    nodes: list[dict[str, Any]] = []
    after = None
    while True:
        page = (await api.gql(JOBS, {"first": size, "after": after, **variables}))["jobs"]
        nodes += [edge["node"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return nodes
        after = page["pageInfo"]["endCursor"]


async def test_pages_walk_every_job_newest_first_without_overlap(api: Api) -> None:
    created = await create_jobs(api, "page", 7)
    ids = [c["job"]["id"] for c in created]
    nodes = await all_pages(api, 3)
    listed = [n["id"] for n in nodes if n["id"] in ids]
    assert listed == list(reversed(ids))
    assert len({n["id"] for n in nodes}) == len(nodes)


async def stored_jobs(owner: User, prefix: str, count: int, runs: int = 1) -> list[Job]:
    """Jobs with `runs` finished runs each, stored as the API stores them (what is measured
    here is reading them; runs started on the cluster would only load the machine)."""
    jobs = []
    for i in range(count):
        job = await Job.create(
            name=f"{prefix}-{i}", image="busybox:1.36", gpu="1g.10gb", storage_gi=1,
            command=["true"], args=[], env=[], run_count=runs, owner=owner,
        )  # fmt: skip
        for number in range(1, runs + 1):
            run = await Run.create(
                job=job,
                number=number,
                status=RunStatus.COMPLETED,
                kube_name=f"walkai-{uuid.uuid4()}",
            )
            await RunEvent.create(run=run, version=run.version, status=run.status)
        jobs.append(job)
    return jobs


JOB_RUNS = """
query($id: ID!, $after: String) {
  job(id: $id) {
    latestRun { number }
    runs(first: 2, after: $after) {
      edges { node { number } }
      pageInfo { hasNextPage endCursor }
    }
  }
}"""


async def test_a_jobs_runs_page_newest_first_beside_other_jobs(api: Api) -> None:
    user = await api.as_new_user()
    assert user.user is not None
    job, other = await stored_jobs(user.user, "paged", 2, runs=5)
    pages, after = [], None
    while True:
        found = (await user.gql(JOB_RUNS, {"id": to_base64("Job", job.id), "after": after}))["job"]
        assert found["latestRun"] == {"number": 5}
        pages.append([e["node"]["number"] for e in found["runs"]["edges"]])
        if not found["runs"]["pageInfo"]["hasNextPage"]:
            break
        after = found["runs"]["pageInfo"]["endCursor"]
    assert pages == [[5, 4], [3, 2], [1]]
    # Two Jobs in one request (one batch of the loader): each gets its own runs.
    both = await user.gql(
        "query($a: ID!, $b: ID!) { a: job(id: $a) { ...R } b: job(id: $b) { ...R } }"
        " fragment R on Job { latestRun { id } runs(first: 3) { edges { node { id number } } } }",
        {"a": to_base64("Job", job.id), "b": to_base64("Job", other.id)},
    )
    for alias, stored in (("a", job), ("b", other)):
        ids = {str(r.id) for r in await Run.filter(job_id=stored.id)}
        edges = both[alias]["runs"]["edges"]
        assert [e["node"]["number"] for e in edges] == [5, 4, 3]
        assert {from_base64(e["node"]["id"])[1] for e in edges} <= ids
        assert from_base64(both[alias]["latestRun"]["id"])[1] in ids


async def test_a_page_of_50_jobs_with_their_runs_costs_a_constant_number_of_queries(
    api: Api, sql_queries: QueryCounter
) -> None:
    user = await api.as_new_user()
    assert user.user is not None
    await stored_jobs(user.user, "bulk", 50)
    page = (await user.http.execute(JOBS, {"first": 50}, headers=sql_queries.headers))["data"][
        "jobs"
    ]
    assert len(page["edges"]) == 50
    assert all(e["node"]["runs"]["edges"] for e in page["edges"])
    # jobs + runs of those jobs + timelines of those runs: three, whatever the page size.
    assert 1 <= len(sql_queries.statements) <= 3, sql_queries.statements


async def test_status_filter_uses_the_latest_run(api: Api) -> None:
    (done,) = await create_jobs(api, "filter-done", 1)
    async with api.subscribe(RUN_STATUS, {"runId": done["run"]["id"]}) as sub:
        await asyncio.wait_for(sub.collect(), timeout=60)
    completed = await all_pages(api, 100, status="COMPLETED")
    assert done["job"]["id"] in {n["id"] for n in completed}
    assert all(n["latestRun"]["status"] == "COMPLETED" for n in completed)
    failed = await all_pages(api, 100, status="FAILED")
    assert done["job"]["id"] not in {n["id"] for n in failed}


async def test_page_size_is_bounded(api: Api) -> None:
    for first in (0, 101):
        body = await api.http.execute(JOBS, {"first": first})
        assert body["errors"][0]["message"] == "`first` must be between 1 and 100."


async def test_a_foreign_cursor_is_refused(api: Api) -> None:
    body = await api.http.execute(JOBS, {"first": 1, "after": "bm90IG91cnM="})
    assert body["errors"][0]["message"] == "The cursor is not valid."


async def test_node_resolves_jobs_and_runs_by_global_id(api: Api) -> None:
    (created,) = await create_jobs(api, "node", 1)
    job = (await api.gql(NODE, {"id": created["job"]["id"]}))["node"]
    assert job == {"__typename": "Job", "id": created["job"]["id"], "name": "node-0"}
    run = (await api.gql(NODE, {"id": created["run"]["id"]}))["node"]
    assert run["__typename"] == "Run" and run["number"] == 1
    missing = "Sm9iOjAwMDAwMDAwLTAwMDAtMDAwMC0wMDAwLTAwMDAwMDAwMDAwMA=="  # Job:<zero uuid>
    assert (await api.gql(NODE, {"id": missing}))["node"] is None


async def test_gpu_profiles_are_the_configured_ones_smallest_first(api: Api) -> None:
    profiles = (await api.gql(GPU_PROFILES))["gpuProfiles"]
    assert [p["name"] for p in profiles] == ["1g.10gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb"]
    assert profiles[-1] == {
        "name": "7g.80gb",
        "memoryGb": 80,
        "computeSlices": 7,
        "gpuModel": "A100-80GB",
    }


JOBS_SECRETS = """
query($first: Int) { jobs(first: $first) { edges { node { secrets { name secret { id } } } } } }
"""


async def test_the_secrets_of_a_page_of_jobs_are_read_in_one_query(
    api: Api, sql_queries: QueryCounter
) -> None:
    name = f"shared-{uuid.uuid4().hex[:8]}"
    created = await api.gql(CREATE_SECRET, {"name": name, "data": [{"key": "K", "value": "v"}]})
    secret_id = created["createSecret"]["secret"]["id"]
    for i in range(10):
        payload = (
            await api.gql(
                CREATE_JOB,
                {"input": job_input(name=f"sec-{i}", command=["true"], secretNames=[name])},
            )
        )["createJob"]
        assert payload["userErrors"] == []
    page = await api.http.execute(JOBS_SECRETS, {"first": 10}, headers=sql_queries.headers)
    nodes = [e["node"] for e in page["data"]["jobs"]["edges"]]
    assert nodes == [{"secrets": [{"name": name, "secret": {"id": secret_id}}]}] * 10
    # The jobs, then their secrets: one query each, whatever the page size.
    assert len(sql_queries.statements) <= 2, sql_queries.statements
