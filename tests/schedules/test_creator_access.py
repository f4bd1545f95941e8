"""A schedule fires with its creator's rights as they are at each tick: a creator removed from
the team whose secret the Job injects, or deactivated, gets skipped ticks (REFUSED), no run."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from tests.api.operations import CREATE_JOB, job_input
from tests.auth.test_lost_access import remove, team_member, team_secret
from tests.schedules.conftest import create, eventually, now, state
from tests.support.api import Api

DEACTIVATE = "mutation($id: ID!) { deactivateUser(id: $id) { ok userErrors { code } } }"


async def job_with_team_secret(api: Api) -> tuple[Api, str, Api, str]:
    """A member, a Job of theirs injecting a colleague's team secret, an admin, and the team."""
    member, team_id, admin = await team_member(api)
    teams = (await member.gql("{ teams { id name } }"))["teams"]
    colleague = await api.as_new_user(teams=tuple(t["name"] for t in teams))
    secret = await team_secret(colleague, team_id, "value")
    created = await member.gql(
        CREATE_JOB, {"input": job_input(command=["true"], secretNames=[secret])}
    )
    assert created["createJob"]["userErrors"] == []
    return member, created["createJob"]["job"]["id"], admin, team_id


async def refused_tick(api: Api, job_id: str) -> dict[str, Any]:
    async def skipped() -> dict[str, Any] | None:
        _, (schedule,) = await state(api, job_id)
        return schedule if schedule["lastSkipReason"] == "REFUSED" else None

    schedule = await eventually(skipped)
    # A tick may have fired before the change reached the loop; none fires after a refusal.
    before, _ = await state(api, job_id)
    await asyncio.sleep(1.5)  # later ticks are refused too
    runs, _ = await state(api, job_id)
    assert [r["number"] for r in runs] == [r["number"] for r in before]
    return schedule


async def test_a_creator_removed_from_the_team_gets_refused_ticks(fast: Api) -> None:
    member, job_id, admin, team_id = await job_with_team_secret(fast)
    await create(member, job_id, cron="* * * * * *", skipWhileRunning=False)
    await remove(admin, member, team_id)
    schedule = await refused_tick(member, job_id)
    assert "Secret" in schedule["lastSkipMessage"]


async def test_a_deactivated_creator_gets_refused_ticks(fast: Api) -> None:
    member, job_id, admin, _ = await job_with_team_secret(fast)
    run_at = (now() + timedelta(seconds=2)).replace(microsecond=0)
    await create(member, job_id, runAt=run_at.isoformat())
    user_id = (await member.gql("{ viewer { id } }"))["viewer"]["id"]
    assert (await admin.gql(DEACTIVATE, {"id": user_id}))["deactivateUser"]["ok"] is True
    schedule = await refused_tick(admin, job_id)
    assert schedule["skippedTicks"] == 1 and schedule["lastRun"] is None
