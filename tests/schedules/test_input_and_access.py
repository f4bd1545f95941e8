"""Schedules refused with userErrors naming the field; another user's schedule looks missing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from app.db.schedule_models import Schedule
from tests.schedules.conftest import (
    CREATE_SCHEDULE,
    DELETE,
    JOB_SCHEDULES,
    NODE,
    PAUSE,
    RESUME,
    create,
    eventually,
    new_job,
    now,
    state,
)
from tests.support.api import Api

IN_AN_HOUR = (now() + timedelta(hours=1)).isoformat()


@pytest.mark.parametrize(
    ("arguments", "fields", "code"),
    [
        ({"cron": "every day"}, {"cron"}, "INVALID"),
        ({"cron": "61 * * * *"}, {"cron"}, "INVALID"),
        ({"cron": "* * * * * *"}, {"cron"}, "OUT_OF_RANGE"),  # more often than once a minute
        ({"cron": "0 * * * *", "timezone": "Mars/Olympus"}, {"timezone"}, "INVALID"),
        ({"runAt": "2020-01-01T00:00:00Z"}, {"runAt"}, "OUT_OF_RANGE"),
        ({"cron": "0 * * * *", "runAt": IN_AN_HOUR}, {"cron", "runAt"}, "INVALID"),
        ({}, {"cron", "runAt"}, "REQUIRED"),
    ],
)
async def test_invalid_schedules_are_refused_naming_the_field(
    api: Api, arguments: dict[str, Any], fields: set[str], code: str
) -> None:
    job_id = await new_job(api)
    payload = (await api.gql(CREATE_SCHEDULE, {"jobId": job_id, **arguments}))["createSchedule"]
    assert payload["schedule"] is None
    assert {e["field"] for e in payload["userErrors"]} == fields
    assert {e["code"] for e in payload["userErrors"]} == {code}
    _, schedules = await state(api, job_id)
    assert schedules == []


async def test_another_user_cannot_see_pause_resume_or_delete_a_schedule(api: Api) -> None:
    job_id = await new_job(api)
    schedule = await create(api, job_id, cron="0 9 * * 1-5", timezone="Europe/Madrid")
    assert schedule["nextRunAt"] is not None and schedule["paused"] is False
    other = await api.as_new_user()

    assert (await other.gql(NODE, {"id": schedule["id"]}))["node"] is None
    assert (await other.gql(JOB_SCHEDULES, {"id": job_id}))["job"] is None
    for operation, name in ((PAUSE, "pauseSchedule"), (RESUME, "resumeSchedule")):
        payload = (await other.gql(operation, {"id": schedule["id"]}))[name]
        assert payload == {"schedule": None, "userErrors": [{"field": "id", "code": "NOT_FOUND"}]}
    payload = (await other.gql(DELETE, {"id": schedule["id"]}))["deleteSchedule"]
    assert payload == {"deletedId": None, "userErrors": [{"field": "id", "code": "NOT_FOUND"}]}
    payload = (await other.gql(CREATE_SCHEDULE, {"jobId": job_id, "runAt": IN_AN_HOUR}))[
        "createSchedule"
    ]
    assert payload["schedule"] is None
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [("jobId", "NOT_FOUND")]

    # Untouched, and still the owner's to delete.
    _, schedules = await state(api, job_id)
    assert schedules == [schedule]
    assert (await api.gql(NODE, {"id": schedule["id"]}))["node"] == schedule
    payload = (await api.gql(DELETE, {"id": schedule["id"]}))["deleteSchedule"]
    assert payload == {"deletedId": schedule["id"], "userErrors": []}
    assert (await state(api, job_id))[1] == []


async def test_a_team_member_sees_and_pauses_a_team_job_schedule(api: Api) -> None:
    owner = await api.as_new_user(teams=("schedulers",))
    member = await api.as_new_user(teams=("schedulers",))
    team = (await owner.gql("{ viewer { teams { id name } } }"))["viewer"]["teams"]
    job = (
        await owner.gql(
            "mutation($input: CreateJobInput!) { createJob(input: $input) { job { id } } }",
            {
                "input": {
                    "image": "busybox:1.36",
                    "gpu": "1g.10gb",
                    "storageGi": 1,
                    "command": ["sh", "-c", "exit 0"],
                    "teamId": next(t["id"] for t in team if t["name"] == "schedulers"),
                }
            },
        )
    )["createJob"]["job"]
    schedule = await create(owner, job["id"], runAt=IN_AN_HOUR)
    payload = (await member.gql(PAUSE, {"id": schedule["id"]}))["pauseSchedule"]
    assert payload["userErrors"] == [] and payload["schedule"]["paused"] is True


async def test_deleting_the_job_deletes_its_schedules(api: Api) -> None:
    job_id = await new_job(api)
    schedule = await create(api, job_id, runAt=IN_AN_HOUR)
    await eventually(lambda: _finished(api, job_id))
    deleted = await api.gql(
        "mutation($id: ID!) { deleteJob(id: $id) { userErrors { code } } }", {"id": job_id}
    )
    assert deleted["deleteJob"]["userErrors"] == []
    assert (await api.gql(NODE, {"id": schedule["id"]}))["node"] is None  # gone at once
    assert await eventually(lambda: _no_schedules(job_id), timeout=60)


async def _finished(api: Api, job_id: str) -> bool:
    runs, _ = await state(api, job_id)
    return all(r["status"] in ("COMPLETED", "FAILED", "CANCELLED") for r in runs)


async def _no_schedules(job_id: str) -> bool:
    from tests.support.graphql import node_uuid

    return not await Schedule.exists(job_id=node_uuid(job_id))
