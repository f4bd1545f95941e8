"""Fixtures and helpers of the schedule tests: a fast schedule setting, and the operations."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import pytest

from tests.api.operations import CREATE_JOB, job_input
from tests.support.api import Api
from tests.support.servers import RUNNING

T = TypeVar("T")

SCHEDULE = """
    id cron runAt timezone skipWhileRunning paused nextRunAt lastRunAt lastRun { id number }
    skippedTicks lastSkippedAt lastSkipReason lastSkipMessage
"""

CREATE_SCHEDULE = f"""
mutation CreateSchedule($jobId: ID!, $cron: String, $runAt: DateTime, $timezone: String! = "UTC",
                        $skipWhileRunning: Boolean! = true) {{
  createSchedule(jobId: $jobId, cron: $cron, runAt: $runAt, timezone: $timezone,
                 skipWhileRunning: $skipWhileRunning) {{
    schedule {{ {SCHEDULE} }}
    userErrors {{ field message code }}
  }}
}}
"""

PAUSE = f"""
mutation Pause($id: ID!) {{
  pauseSchedule(id: $id) {{ schedule {{ {SCHEDULE} }} userErrors {{ field code }} }}
}}
"""

RESUME = f"""
mutation Resume($id: ID!) {{
  resumeSchedule(id: $id) {{ schedule {{ {SCHEDULE} }} userErrors {{ field code }} }}
}}
"""

DELETE = """
mutation Delete($id: ID!) {
  deleteSchedule(id: $id) { deletedId userErrors { field code } }
}
"""

JOB_SCHEDULES = f"""
query JobSchedules($id: ID!) {{
  job(id: $id) {{
    runs(first: 100) {{ edges {{ node {{ number status submittedAt finishedAt }} }} }}
    schedules {{ {SCHEDULE} }}
  }}
}}
"""

NODE = f"""
query Node($id: ID!) {{ node(id: $id) {{ ... on Schedule {{ {SCHEDULE} }} }} }}
"""

QUICK = ["sh", "-c", "exit 0"]


def set_everywhere(api: Api, monkeypatch: pytest.MonkeyPatch, name: str, value: object) -> None:
    """Set a setting on every platform of this process. Any of them may fire a schedule: the
    session's S3 stack (another namespace, so another Lease) shares the database, and its
    schedule loop claims ticks as readily as the session API's."""
    for settings in {id(p.settings): p.settings for p in [api.platform, *RUNNING]}.values():
        monkeypatch.setattr(settings, name, value)


@pytest.fixture
def fast(api: Api, monkeypatch: pytest.MonkeyPatch) -> Api:
    """The API allowing a schedule to fire every second (replicas share these settings)."""
    set_everywhere(api, monkeypatch, "schedule_min_interval_seconds", 1)
    return api


def at(text: str | None) -> datetime:
    """A DateTime the API returned."""
    assert text is not None
    return datetime.fromisoformat(text)


def now() -> datetime:
    return datetime.now(UTC)


async def new_job(api: Api, command: list[str] = QUICK) -> str:
    """A Job (its first run started); its global id."""
    payload = (await api.gql(CREATE_JOB, {"input": job_input(command=command)}))["createJob"]
    assert payload["userErrors"] == [], payload["userErrors"]
    job_id: str = payload["job"]["id"]
    return job_id


async def create(api: Api, job_id: str, **arguments: Any) -> dict[str, Any]:
    """A schedule that must be created."""
    payload = (await api.gql(CREATE_SCHEDULE, {"jobId": job_id, **arguments}))["createSchedule"]
    assert payload["userErrors"] == [], payload["userErrors"]
    schedule: dict[str, Any] = payload["schedule"]
    return schedule


async def state(api: Api, job_id: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The Job's runs (oldest first) and schedules."""
    job = (await api.gql(JOB_SCHEDULES, {"id": job_id}))["job"]
    runs = sorted((e["node"] for e in job["runs"]["edges"]), key=lambda r: r["number"])
    return runs, job["schedules"]


async def eventually(check: Callable[[], Awaitable[T]], timeout: float = 30) -> T:
    """The first truthy result of `check()`, polled every 100 ms; fails after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.1)
