"""Access that must not outlive the right to it: a member removed from a team cannot rerun a
Job that reads the team's secret or input (the rerun would hand them its current value)."""

from __future__ import annotations

import uuid
from typing import Any

from tests.api.operations import CREATE_JOB, job_input
from tests.inputs.test_inputs import create_input
from tests.inputs.test_rerun import LATEST_RUN, RERUN
from tests.secrets.operations import CREATE_SECRET
from tests.support.api import Api

REMOVE_MEMBER = """mutation($teamId: ID!, $userId: ID!) {
  removeTeamMember(teamId: $teamId, userId: $userId) { ok userErrors { code } } }"""


async def team_member(api: Api) -> tuple[Api, str, Api]:
    """A member of a fresh team, the team's global id, and an admin."""
    team = f"team-{uuid.uuid4().hex[:8]}"
    member = await api.as_new_user(teams=(team,))
    (team_id,) = [t["id"] for t in (await member.gql("{ teams { id name } }"))["teams"]]
    return member, team_id, await api.as_new_user(role="ADMIN")


async def remove(admin: Api, member: Api, team_id: str) -> None:
    user_id = (await member.gql("{ viewer { id } }"))["viewer"]["id"]
    removed = await admin.gql(REMOVE_MEMBER, {"teamId": team_id, "userId": user_id})
    assert removed["removeTeamMember"] == {"ok": True, "userErrors": []}


async def team_secret(member: Api, team_id: str, value: str) -> str:
    name = f"team-{uuid.uuid4().hex[:8]}"
    data = [{"key": "TOKEN", "value": value}]
    created = await member.gql(CREATE_SECRET, {"name": name, "data": data, "teamId": team_id})
    assert created["createSecret"]["userErrors"] == []
    return name


async def own_job(member: Api, **fields: Any) -> str:
    created = await member.gql(CREATE_JOB, {"input": job_input(command=["true"], **fields)})
    assert created["createJob"]["userErrors"] == [], created
    job_id: str = created["createJob"]["job"]["id"]
    return job_id


async def test_a_member_removed_from_a_team_cannot_rerun_a_job_injecting_its_secret(
    api: Api,
) -> None:
    member, team_id, admin = await team_member(api)
    colleague = await api.as_new_user(teams=(await _team_name(member, team_id),))
    secret = await team_secret(colleague, team_id, "v-" + uuid.uuid4().hex)
    job_id = await own_job(member, secretNames=[secret])
    assert (await member.gql(RERUN, {"jobId": job_id}))["rerunJob"]["userErrors"] == []

    await remove(admin, member, team_id)
    refused = (await member.gql(RERUN, {"jobId": job_id}))["rerunJob"]
    assert refused["run"] is None
    assert [(e["field"], e["code"]) for e in refused["userErrors"]] == [("jobId", "NOT_FOUND")]
    assert f"Secret '{secret}'" in refused["userErrors"][0]["message"]
    # Nothing was created: the Job still has its two runs.
    assert (await member.gql(LATEST_RUN, {"id": job_id}))["job"]["latestRun"]["number"] == 2
    # The team's remaining members still rerun it (admins see everything, too).
    assert (await admin.gql(RERUN, {"jobId": job_id}))["rerunJob"]["userErrors"] == []


async def test_a_teammate_cannot_rerun_a_team_job_with_the_owners_private_input_or_secret(
    api: Api,
) -> None:
    """With an override of the command, such a rerun would print what only the owner may read."""
    owner, team_id, _ = await team_member(api)
    teammate = await api.as_new_user(teams=(await _team_name(owner, team_id),))
    input_name = f"private-{uuid.uuid4().hex[:8]}"
    input_id = await create_input(owner, input_name, {"n.txt": (b"42", "text/plain")})
    secret = f"own-{uuid.uuid4().hex[:8]}"
    data = [{"key": "TOKEN", "value": "v"}]
    created = await owner.gql(CREATE_SECRET, {"name": secret, "data": data, "teamId": None})
    assert created["createSecret"]["userErrors"] == []
    job_id = await own_job(owner, inputIds=[input_id], secretNames=[secret], teamId=team_id)

    refused = (await teammate.gql(RERUN, {"jobId": job_id}))["rerunJob"]
    assert refused["run"] is None
    messages = " ".join(e["message"] for e in refused["userErrors"])
    assert [(e["field"], e["code"]) for e in refused["userErrors"]] == [("jobId", "NOT_FOUND")] * 2
    assert f"Input '{input_name}'" in messages and f"Secret '{secret}'" in messages
    assert (await owner.gql(LATEST_RUN, {"id": job_id}))["job"]["latestRun"]["number"] == 1
    assert (await owner.gql(RERUN, {"jobId": job_id}))["rerunJob"]["userErrors"] == []


async def _team_name(member: Api, team_id: str) -> str:
    teams = (await member.gql("{ teams { id name } }"))["teams"]
    name: str = next(t["name"] for t in teams if t["id"] == team_id)
    return name
