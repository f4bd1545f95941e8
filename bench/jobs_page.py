"""A page of 50 Jobs with their runs and each run's artifacts: requests/s and SQL statements.

    .venv/bin/python bench/jobs_page.py [--jobs 200] [--seconds 10] [--concurrency 4]

The anchor is a hand-written Starlette JSON endpoint served by the same app (same middleware,
same token check, same database and object store) returning the same data: the Jobs, their
five newest runs, and each run's first ten artifacts, one SQL statement per level and the
store listings concurrently. Both are driven by the same client in another process. SQL
statements are counted per request (authentication left out, as in tests/api) at pages of 10
and of 50: they must not grow with the page.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import tempfile
from pathlib import Path
from typing import Any

from harness import Row, emit, serve_api
from load import load
from seed import seed_jobs

PAGE = """
query Page($first: Int) {
  jobs(first: $first) {
    edges { node { id name image gpu createdAt
      runs(first: 5) { edges { node { id number status submittedAt finishedAt
        artifacts(first: 10) { edges { node { path size lastModified } } } } } } } }
    pageInfo { endCursor hasNextPage }
  }
}
"""
RUNS_PER_JOB = 3
ARTIFACTS_PER_RUN = 3


async def anchor(request: Any) -> Any:
    """The same page, hand-written: Jobs, then their runs, then the runs' artifact listings."""
    from starlette.responses import JSONResponse
    from tortoise import connections

    from app.auth.sessions import authenticate_token, bearer_token
    from app.services.outputs import list_artifacts

    principal = await authenticate_token(bearer_token(request.headers.get("authorization")) or "")
    if principal is None:
        return JSONResponse({"error": "unauthenticated"}, status_code=401)
    first = int(request.query_params.get("first", "50"))
    db = connections.get("default")
    mark = (lambda i: f"${i}") if db.capabilities.dialect == "postgres" else (lambda i: "?")
    jobs = await db.execute_query_dict(
        "SELECT id, name, image, gpu, created_at FROM job"
        f" WHERE owner_id = {mark(1)} AND deleting_at IS NULL"
        f" ORDER BY created_at DESC, id DESC LIMIT {mark(2)}",
        [str(principal.user_id), first + 1],
    )
    page, more = jobs[:first], len(jobs) > first
    ids = [str(j["id"]) for j in page]
    runs: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
    if ids:
        marks = ", ".join(mark(i + 1) for i in range(len(ids)))
        for run in await db.execute_query_dict(
            "SELECT id, job_id, number, status, submitted_at, finished_at FROM run"
            f" WHERE job_id IN ({marks}) ORDER BY number DESC",
            ids,
        ):
            if len(runs[str(run["job_id"])]) < 5:
                runs[str(run["job_id"])].append(run)
    store = request.app.state.platform.store
    listed = [run for job_runs in runs.values() for run in job_runs]
    listings = await asyncio.gather(
        *(list_artifacts(store, str(run["id"]), "", 10, None) for run in listed)
    )
    for run, (items, _) in zip(listed, listings, strict=True):
        cut = len(f"runs/{run['id']}/outputs/")
        run["artifacts"] = [
            {"path": i.key[cut:], "size": i.size, "lastModified": i.last_modified.isoformat()}
            for i in items
        ]
    body = [
        {
            **{k: str(v) for k, v in job.items()},
            "runs": [
                {k: (v if isinstance(v, int | list) else str(v)) for k, v in r.items()}
                for r in runs[str(job["id"])]
            ],
        }
        for job in page
    ]
    return JSONResponse({"jobs": body, "hasNextPage": more})


class Statements(logging.Handler):
    """SQL statements of the requests that carry one request id (not authentication's)."""

    def __init__(self, request_id: str) -> None:
        super().__init__(level=logging.DEBUG)
        self.request_id = request_id
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        from app.observability.logs import REQUEST_ID

        text = record.getMessage()
        if REQUEST_ID.get() != self.request_id or '"auth_' in text or "auth_" in text[:80]:
            return
        if text.lstrip().upper().startswith(("SELECT", "INSERT", "UPDATE", "DELETE")):
            self.count += 1


async def count_statements(api: Any, first: int) -> tuple[int, int]:
    """Statements of one GraphQL page and of one anchor page of `first` Jobs."""
    import httpx

    logger = logging.getLogger("tortoise.db_client")
    counts = []
    for kind in ("graphql", "anchor"):
        handler = Statements(f"bench-sql-{kind}-{first}")
        headers = {"X-Request-Id": handler.request_id, **api.headers}
        logging.disable(logging.NOTSET)
        logger.setLevel(logging.DEBUG)
        logger.addHandler(handler)
        try:
            async with httpx.AsyncClient(timeout=60, headers=headers) as http:
                if kind == "graphql":
                    body = {"query": PAGE, "variables": {"first": first}}
                    response = await http.post(f"{api.base_url}/graphql", json=body)
                    assert not response.json().get("errors"), response.json()
                else:
                    response = await http.get(f"{api.base_url}/bench/jobs?first={first}")
                    assert response.status_code == 200, response.text
        finally:
            logger.removeHandler(handler)
            logger.setLevel(logging.WARNING)
            logging.disable(logging.WARNING)
        counts.append(handler.count)
    return counts[0], counts[1]


async def main(args: argparse.Namespace) -> None:
    from starlette.routing import Route

    work = Path(tempfile.mkdtemp(prefix="bench-jobs-page-"))
    async with serve_api(work, routes=[Route("/bench/jobs", anchor)]) as api:
        seeded = await seed_jobs(api.user, args.jobs, RUNS_PER_JOB)
        store = api.platform.store
        for job in seeded.jobs[:50]:
            for run in seeded.runs[job]:
                for k in range(ARTIFACTS_PER_RUN):
                    await store.put(f"runs/{run}/outputs/metrics/step-{k}.json", b"{}" * 200)
        page = (await api.gql(PAGE, {"first": 50}))["jobs"]["edges"]
        runs = page[0]["node"]["runs"]["edges"]
        assert len(page) == 50 and len(runs) == RUNS_PER_JOB, page[0]
        assert len(runs[0]["node"]["artifacts"]["edges"]) == ARTIFACTS_PER_RUN
        sql10, anchor10 = await count_statements(api, 10)
        sql50, anchor50 = await count_statements(api, 50)
        print(f"SQL statements per page of 10 / 50: GraphQL {sql10} / {sql50}, "
              f"anchor {anchor10} / {anchor50}")  # fmt: skip
        body = {"query": PAGE, "variables": {"first": 50}}
        ours = await load(
            f"{api.base_url}/graphql", body, api.headers, args.seconds, args.concurrency
        )
        bare = await load(
            f"{api.base_url}/bench/jobs?first=50", None, api.headers, args.seconds, args.concurrency
        )
        print(f"GraphQL {ours}\nanchor  {bare}")
    ratio = ours["per_s"] / bare["per_s"]
    emit(
        Row(
            "page of 50 Jobs + runs + artifacts (requests/s; anchor hand-written Starlette)",
            ours["per_s"],
            "req/s",
            bare["per_s"],
            ratio,
            ">= 0.5x",
            ratio >= 0.5 and not ours["errors"],
        )
    )
    emit(
        Row(
            "  SQL statements per page of 50 (anchor: hand-written), same at 10",
            sql50,
            "",
            anchor50,
            sql50 / anchor50 if anchor50 else None,
            "constant",
            sql50 == sql10,
            f"{sql10} at a page of 10",
        )
    )


if __name__ == "__main__":
    from app.serving import run

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=4)
    run(main(parser.parse_args()))
