"""`createJob` mutations/s into the simulated cluster, on SQLite and on PostgreSQL.

    .venv/bin/python bench/create_job.py [--seconds 10] [--rounds 2] [--concurrency 4]
        [--backend sqlite|postgres|both]

The anchor does the same writes without GraphQL: a Starlette endpoint on the same app (same
middleware, token check, database and Kubernetes client) that inserts the Job, its run and the
run's first timeline entry in one transaction, then creates the suspended Kubernetes Job and
its credential Secret from the same manifests. Both take the same JSON over HTTP from the same
client in another process. The admission loop runs meanwhile, as in production (every Job is
created suspended and admitted by it); the two alternate in rounds so that both meet a queue
of the same length, and the best round of each counts. Each backend runs in a process of its
own (Tortoise binds its SQL dialect per process); PostgreSQL is a throwaway one
(scripts/postgres.sh), skipped with a line saying so if it cannot start.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from harness import Row, emit, postgres_database, postgres_server, serve_api
from load import load

JOB = {"image": "busybox:1.36", "gpu": "1g.10gb", "storageGi": 1, "command": ["true"]}
MUTATION = """
mutation($input: CreateJobInput!) {
  createJob(input: $input) { job { id } run { id status } userErrors { field code } }
}
"""


async def anchor(request: Any) -> Any:
    """createJob's inserts and Kubernetes calls, hand-written."""
    from kubernetes_asyncio import client
    from starlette.responses import JSONResponse
    from tortoise.transactions import in_transaction

    from app.auth.sessions import authenticate_token, bearer_token
    from app.db.models import Job, Run, RunEvent
    from app.domain.status import RunStatus
    from app.kube.labels import kube_job_name
    from app.kube.manifests import RunRef, credential_secret, run_job
    from app.services.jobs import run_spec

    principal = await authenticate_token(bearer_token(request.headers.get("authorization")) or "")
    if principal is None:
        return JSONResponse({"error": "unauthenticated"}, status_code=401)
    data = await request.json()
    platform = request.app.state.platform
    async with in_transaction():
        job = await Job.create(
            name="bench",
            image=data["image"],
            gpu=data["gpu"],
            storage_gi=data["storageGi"],
            command=data["command"],
            run_count=1,
            owner_id=principal.user_id,
        )
        run = Run(job=job, number=1, status=RunStatus.SUBMITTED, command=data["command"])
        run.kube_name = kube_job_name(str(run.id))
        await run.save()
        await RunEvent.create(run=run, version=run.version, status=run.status)
    ref = RunRef(job_id=str(job.id), run_id=str(run.id), number=1)
    settings = platform.manifest_settings
    manifest = run_job(run_spec(job, run), ref, settings, suspend=True)
    created = await client.BatchV1Api(platform.kube).create_namespaced_job(
        settings.namespace, manifest
    )
    secret = credential_secret(
        ref, platform.run_tokens.issue(run.id), created.metadata.uid, settings.namespace
    )
    await client.CoreV1Api(platform.kube).create_namespaced_secret(settings.namespace, secret)
    return JSONResponse({"job": str(job.id), "run": str(run.id), "status": run.status.value})


async def measure(args: argparse.Namespace, backend: str) -> None:
    from starlette.routing import Route

    work = Path(tempfile.mkdtemp(prefix=f"bench-create-{backend}-"))
    url = await postgres_database() if backend == "postgres" else None
    best = {"graphql": 0.0, "anchor": 0.0}
    errors = 0
    route = Route("/bench/create", anchor, methods=["POST"])
    async with serve_api(work, url, routes=[route]) as api:
        body = {"query": MUTATION, "variables": {"input": JOB}}
        for round_ in range(args.rounds):
            for kind in ("graphql", "anchor") if round_ % 2 == 0 else ("anchor", "graphql"):
                target = f"{api.base_url}/graphql" if kind == "graphql" else None
                figures = await load(
                    target or f"{api.base_url}/bench/create",
                    body if target else JOB,
                    api.headers,
                    args.seconds,
                    args.concurrency,
                )
                print(f"{backend} round {round_ + 1} {kind:<7} {figures}", flush=True)
                best[kind] = max(best[kind], figures["per_s"])
                errors += int(figures["errors"])
    ratio = best["graphql"] / best["anchor"]
    emit(
        Row(
            f"createJob on {backend} (mutations/s; anchor same inserts + create calls)",
            best["graphql"],
            "/s",
            best["anchor"],
            ratio,
            ">= 0.5x",
            ratio >= 0.5 and not errors,
            f"{errors} errors" if errors else "",
        )
    )


def main() -> None:
    from app.serving import run

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    args = parser.parse_args()
    if args.backend != "both":
        run(measure(args, args.backend))
        return
    own = ["--seconds", str(args.seconds), "--rounds", str(args.rounds)]
    own += ["--concurrency", str(args.concurrency)]
    subprocess.run([sys.executable, __file__, *own, "--backend", "sqlite"], check=True)
    with postgres_server() as url:
        if url is None:
            print("createJob on PostgreSQL: skipped, PostgreSQL could not start", flush=True)
            emit(Row("createJob on postgres", None, "/s", note="skipped: no PostgreSQL"))
            return
        subprocess.run([sys.executable, __file__, *own, "--backend", "postgres"], check=True)


if __name__ == "__main__":
    main()
