"""The fault scenarios of `tests/faults/` at larger sizes: counts, not timings.

    .venv/bin/python bench/faults.py [--scenario NAME ...] [--quick]

Each scenario runs on a fresh API and simulated cluster (as `walkai-jobs serve` serves it) and
prints runs finished right, status transitions published, log lines and artifacts, expected vs
seen, and whether it held: nothing lost, duplicated or left wrong. `--quick` plays the suite's
sizes.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys
import tempfile
from pathlib import Path

from harness import RESULT_PREFIX, serve_api

from tests.faults.report import Report
from tests.faults.scenarios import SCENARIOS, Scenario


async def play(scenario: Scenario, quick: bool) -> Report:
    """One scenario on an API and cluster of its own."""
    size = scenario.suite if quick else scenario.bench
    with tempfile.TemporaryDirectory(prefix=f"walkai-faults-{scenario.name}-") as work:
        async with serve_api(
            Path(work), watch_timeout_seconds=30, preemption_min_runtime_seconds=1
        ) as api:
            try:
                return await scenario.play(api, size)
            except Exception as exc:  # a scenario that cannot finish is a row that did not hold
                report = Report(scenario.name, size)
                report.problems.append(f"{type(exc).__name__}: {exc}")
                return report


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    names = [s.name for s in SCENARIOS]
    parser.add_argument("--scenario", action="append", choices=names, help="default: every one")
    parser.add_argument("--quick", action="store_true", help="the suite's small sizes")
    args = parser.parse_args()
    for scenario in SCENARIOS:
        if args.scenario and scenario.name not in args.scenario:
            continue
        size = scenario.suite if args.quick else scenario.bench
        print(f"{scenario.name}: {scenario.what}; {dataclasses.asdict(size)}", flush=True)
        report = await play(scenario, args.quick)
        print(report.text(), flush=True)
        print(RESULT_PREFIX + json.dumps(report.row()), flush=True)


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
