"""Quotas through the API: setting them, usage as runs run, and who may use which priority."""

from __future__ import annotations

import asyncio
import base64
import time
from typing import Any

from app.db.auth_models import Team
from tests.api.operations import CREATE_JOB, job_input
from tests.support.api import Api

SET_QUOTA = """
mutation($input: SetQuotaInput!) {
  setQuota(input: $input) {
    quota { maxSlices highPriorityGpuHours highPriorityGpuHoursLeft isDefault }
    quotaUsage { id user { id } team { id } usage { slicesInUse } }
    userErrors { field message code }
  }
}"""

VIEWER = """
query {
  viewer {
    usage { slicesInUse sliceSecondsThisPeriod highPrioritySliceSecondsThisPeriod
            periodStart periodEnd }
    quota { maxSlices highPriorityGpuHours highPriorityGpuHoursLeft isDefault }
  }
}"""

QUOTA_USAGE = """
query($after: String) {
  quotaUsage(first: 100, after: $after) {
    edges { node { id user { id } team { id name } quota { maxSlices } usage {
      slicesInUse sliceSecondsThisPeriod } } }
    pageInfo { hasNextPage endCursor }
  }
}"""

RERUN = """
mutation($jobId: ID!, $overrides: RunOverridesInput) {
  rerunJob(jobId: $jobId, overrides: $overrides) {
    run { id } userErrors { field message code }
  }
}"""

RUN = "query($id: ID!) { run(id: $id) { status } }"


def global_id(type_name: str, id_: object) -> str:
    return base64.b64encode(f"{type_name}:{id_}".encode()).decode()


async def set_quota(admin: Api, **input: object) -> dict[str, Any]:
    payload: dict[str, Any] = (await admin.gql(SET_QUOTA, {"input": input}))["setQuota"]
    return payload


async def create_job(api: Api, **fields: object) -> dict[str, Any]:
    payload: dict[str, Any] = (await api.gql(CREATE_JOB, {"input": job_input(**fields)}))[
        "createJob"
    ]
    return payload


async def wait_status(api: Api, run_id: str, *statuses: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while (await api.gql(RUN, {"id": run_id}))["run"]["status"] not in statuses:
        assert time.monotonic() < deadline, f"the run never reached {statuses}"
        await asyncio.sleep(0.1)


async def usage(api: Api) -> dict[str, Any]:
    viewer: dict[str, Any] = (await api.gql(VIEWER))["viewer"]
    return viewer


async def test_admins_set_quotas_and_members_are_refused(api: Api) -> None:
    admin = await api.as_new_user("ADMIN")
    member = await api.as_new_user()
    assert member.user is not None
    user_id = global_id("User", member.user.id)

    refused = await set_quota(member, userId=user_id, maxSlices=3)
    assert refused["quota"] is None
    assert [e["code"] for e in refused["userErrors"]] == ["NOT_FOUND"]
    assert (await usage(member))["quota"]["isDefault"] is True

    done = await set_quota(admin, userId=user_id, maxSlices=3, highPriorityGpuHours=1.5)
    assert done["userErrors"] == []
    assert done["quota"] == {
        "maxSlices": 3,
        "highPriorityGpuHours": 1.5,
        "highPriorityGpuHoursLeft": 1.5,
        "isDefault": False,
    }
    assert done["quotaUsage"]["user"]["id"] == user_id and done["quotaUsage"]["team"] is None
    assert (await usage(member))["quota"] == done["quota"]
    # Setting again replaces it (null: no limit).
    again = await set_quota(admin, userId=user_id, maxSlices=5)
    assert again["quota"]["maxSlices"] == 5 and again["quota"]["highPriorityGpuHours"] is None

    # The owner is a node.
    node = await admin.gql(
        "query($id: ID!) { node(id: $id) { ... on QuotaUsage { quota { maxSlices } } } }",
        {"id": done["quotaUsage"]["id"]},
    )
    assert node["node"] == {"quota": {"maxSlices": 5}}
    hidden = await api.gql(
        "query($id: ID!) { node(id: $id) { id } }", {"id": done["quotaUsage"]["id"]}
    )
    assert hidden["node"] is None


async def test_set_quota_names_the_field_at_fault(api: Api) -> None:
    admin = await api.as_new_user("ADMIN")
    assert api.user is not None
    user_id = global_id("User", api.user.id)
    bad = await set_quota(admin, userId=user_id, maxSlices=-1, highPriorityGpuHours=-0.5)
    assert bad["quota"] is None
    assert {(e["field"], e["code"]) for e in bad["userErrors"]} == {
        ("maxSlices", "OUT_OF_RANGE"),
        ("highPriorityGpuHours", "OUT_OF_RANGE"),
    }
    team = await Team.create(name="quota-both")
    both = await set_quota(admin, userId=user_id, teamId=global_id("Team", team.id))
    assert [e["code"] for e in both["userErrors"]] == ["INVALID"]
    neither = await set_quota(admin, maxSlices=1)
    assert [e["code"] for e in neither["userErrors"]] == ["INVALID"]
    missing = await set_quota(
        admin, teamId=global_id("Team", "00000000-0000-0000-0000-000000000000")
    )
    assert [(e["field"], e["code"]) for e in missing["userErrors"]] == [("teamId", "NOT_FOUND")]
    wrong_kind = await set_quota(admin, userId=global_id("Team", team.id))
    assert [(e["field"], e["code"]) for e in wrong_kind["userErrors"]] == [("userId", "NOT_FOUND")]


async def test_usage_grows_while_a_run_runs_and_counts_after_it_ends(api: Api) -> None:
    member = await api.as_new_user()
    before = await usage(member)
    assert before["usage"]["slicesInUse"] == 0
    assert before["usage"]["sliceSecondsThisPeriod"] == 0
    start, end = before["usage"]["periodStart"], before["usage"]["periodEnd"]
    assert start < end

    created = await create_job(member, gpu="2g.20gb", command=["sh", "-c", "sleep 2"])
    assert created["userErrors"] == []
    run_id = created["run"]["id"]
    await wait_status(member, run_id, "RUNNING")
    running = await usage(member)
    assert running["usage"]["slicesInUse"] == 2
    await asyncio.sleep(0.5)
    assert (await usage(member))["usage"]["sliceSecondsThisPeriod"] > running["usage"][
        "sliceSecondsThisPeriod"
    ]

    await wait_status(member, run_id, "COMPLETED")
    after = await usage(member)
    assert after["usage"]["slicesInUse"] == 0
    # 2 compute slices for about 2 seconds, and no more once it ended.
    assert 2 * 1.5 <= after["usage"]["sliceSecondsThisPeriod"] <= 2 * 10
    assert after["usage"]["highPrioritySliceSecondsThisPeriod"] == 0
    assert (after["usage"]["periodStart"], after["usage"]["periodEnd"]) == (start, end)
    await asyncio.sleep(0.3)
    assert (await usage(member))["usage"] == after["usage"]


async def test_extra_high_needs_the_right(api: Api) -> None:
    admin = await api.as_new_user("ADMIN")
    member = await api.as_new_user()
    assert member.user is not None
    # Without a high-priority budget, a member may not ask for EXTRA_HIGH.
    await set_quota(admin, userId=global_id("User", member.user.id), highPriorityGpuHours=0)
    refused = await create_job(member, priority="EXTRA_HIGH", command=["true"])
    assert refused["job"] is None and refused["run"] is None
    assert [(e["field"], e["code"]) for e in refused["userErrors"]] == [("priority", "NOT_ALLOWED")]
    # Admins may, whatever their quota.
    ok = await create_job(admin, priority="EXTRA_HIGH", command=["true"])
    assert ok["userErrors"] == []

    settings = api.platform.settings
    previous = settings.extra_high_roles
    settings.extra_high_roles = "admins"
    try:
        # Only admins: even a member without any limit is refused.
        other = await api.as_new_user()
        refused = await create_job(other, priority="EXTRA_HIGH", command=["true"])
        assert [e["code"] for e in refused["userErrors"]] == ["NOT_ALLOWED"]
    finally:
        settings.extra_high_roles = previous


async def test_high_priority_without_budget_is_refused_or_waits(api: Api) -> None:
    admin = await api.as_new_user("ADMIN")
    member = await api.as_new_user()
    assert member.user is not None
    user_id = global_id("User", member.user.id)
    # A budget of a few slice-seconds, spent by one HIGH run of 2 slices for 2 seconds.
    budget = 3 / (7 * 3600)
    await set_quota(admin, userId=user_id, highPriorityGpuHours=budget)
    first = await create_job(
        member, gpu="2g.20gb", priority="HIGH", command=["sh", "-c", "sleep 2"]
    )
    assert first["userErrors"] == []
    await wait_status(member, first["run"]["id"], "COMPLETED")
    spent = await usage(member)
    assert spent["usage"]["highPrioritySliceSecondsThisPeriod"] >= 3
    assert spent["quota"]["highPriorityGpuHoursLeft"] <= 0

    refused = await create_job(member, priority="HIGH", command=["true"])
    assert refused["job"] is None
    assert [(e["field"], e["code"]) for e in refused["userErrors"]] == [
        ("priority", "QUOTA_EXCEEDED")
    ]
    # Reruns with a higher priority are checked as well.
    rerun = (
        await member.gql(RERUN, {"jobId": first["job"]["id"], "overrides": {"priority": "HIGH"}})
    )["rerunJob"]
    assert rerun["run"] is None
    assert [(e["field"], e["code"]) for e in rerun["userErrors"]] == [
        ("overrides.priority", "QUOTA_EXCEEDED")
    ]
    # MEDIUM is fine.
    assert (await create_job(member, command=["true"]))["userErrors"] == []

    settings = api.platform.settings
    settings.high_priority_over_quota = "wait"
    try:
        waits = await create_job(member, priority="HIGH", command=["true"])
        assert waits["userErrors"] == [] and waits["run"] is not None
    finally:
        settings.high_priority_over_quota = "refuse"
    # Accepted, it waits in the queue for the next period, saying why.
    run_id = waits["run"]["id"]
    query = "query($id: ID!) { run(id: $id) { status pendingReason pendingMessage } }"
    deadline = time.monotonic() + 30
    while (run := (await member.gql(query, {"id": run_id}))["run"])["pendingReason"] is None:
        assert time.monotonic() < deadline, f"never queued: {run}"
        await asyncio.sleep(0.1)
    assert run["status"] == "PENDING" and run["pendingReason"] == "OVER_QUOTA", run
    cancel = "mutation($id: ID!) { cancelRun(runId: $id) { userErrors { code } } }"
    assert (await member.gql(cancel, {"id": run_id}))["cancelRun"]["userErrors"] == []


async def test_a_team_jobs_usage_counts_for_the_team(api: Api) -> None:
    member = await api.as_new_user(teams=("quota-team",))
    assert member.user is not None
    team = await Team.get(name="quota-team")
    team_id = global_id("Team", team.id)
    created = await create_job(
        member, gpu="1g.10gb", teamId=team_id, command=["sh", "-c", "sleep 1"]
    )
    assert created["userErrors"] == []
    await wait_status(member, created["run"]["id"], "COMPLETED")

    edges = (await member.gql(QUOTA_USAGE))["quotaUsage"]["edges"]
    by_team = {e["node"]["team"]["id"]: e["node"] for e in edges if e["node"]["team"]}
    assert by_team[team_id]["usage"]["sliceSecondsThisPeriod"] >= 0.5
    # Not the member's own.
    assert (await usage(member))["usage"]["sliceSecondsThisPeriod"] == 0
    # A member sees only itself and its teams; admins see every owner.
    assert all(
        e["node"]["team"] or e["node"]["user"]["id"] == global_id("User", member.user.id)
        for e in edges
    )
    admin = await api.as_new_user("ADMIN")
    seen: set[str] = set()
    after = None
    while True:
        page = (await admin.gql(QUOTA_USAGE, {"after": after}))["quotaUsage"]
        seen.update(e["node"]["id"] for e in page["edges"])
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert by_team[team_id]["id"] in seen
