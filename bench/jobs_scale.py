"""`jobs(first: 50)` latency with 1,000 runs in the database, then with 100,000.

    .venv/bin/python bench/jobs_scale.py [--small 1000] [--large 100000] [--seconds 5]

Keyset pages (created_at, id) should cost the same however many rows lie behind the page;
the anchor is the same page over the small table. Runs are written in bulk straight into the
database (two per Job, two timeline entries each); the page asks for what the web app's list
asks for (tests/api/operations.py `JOBS`: latest run, five runs with their timelines). One
request at a time from a client in another process; p50 of each.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from harness import Row, emit, serve_api
from load import load
from seed import seed_jobs

RUNS_PER_JOB = 2


async def main(args: argparse.Namespace) -> None:
    from tests.api.operations import JOBS

    work = Path(tempfile.mkdtemp(prefix="bench-jobs-scale-"))
    body = {"query": JOBS, "variables": {"first": 50}}
    async with serve_api(work) as api:
        url = f"{api.base_url}/graphql"
        small_jobs = args.small // RUNS_PER_JOB
        await seed_jobs(api.user, small_jobs, RUNS_PER_JOB)
        small = await load(url, body, api.headers, args.seconds, concurrency=1)
        await seed_jobs(api.user, (args.large - args.small) // RUNS_PER_JOB, 2, start=small_jobs)
        large = await load(url, body, api.headers, args.seconds, concurrency=1)
    print(f"{args.small:,} runs: {small}\n{args.large:,} runs: {large}")
    ratio = large["p50_ms"] / small["p50_ms"]
    emit(
        Row(
            f"jobs(first: 50) p50 at {args.large:,} runs (ms; anchor: at {args.small:,})",
            large["p50_ms"],
            "ms",
            small["p50_ms"],
            ratio,
            "<= 1.2",
            ratio <= 1.2 and not (small["errors"] or large["errors"]),
        )
    )


if __name__ == "__main__":
    from app.serving import run

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=1000)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=5)
    run(main(parser.parse_args()))
