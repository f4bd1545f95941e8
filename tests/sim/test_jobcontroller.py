"""Jobs run to completion or failure through the Job controller, scheduler and kubelet."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.sim.conftest_controllers import Sim


async def _log(sim: Sim, pod: str, **kwargs) -> bytes:
    options = dict(
        container=None,
        follow=False,
        timestamps=False,
        since_time=None,
        since_seconds=None,
        tail_lines=None,
        limit_bytes=None,
        previous=False,
    )
    options.update(kwargs)
    chunks = [c async for c in sim.controllers.kubelet.open_log("default", pod, **options)]
    return b"".join(chunks)


async def test_job_completes_and_logs(sim: Sim):
    sim.store.create("jobs", "default", sim.make_job("hello", "echo hi; sleep 1"))
    job = await sim.wait_for(lambda: (j := sim.job("hello")) and sim.condition(j, "Complete") and j)
    assert job["status"]["succeeded"] == 1
    assert job["status"]["completionTime"]
    assert sim.condition(job, "SuccessCriteriaMet")
    [pod] = sim.job_pods("hello")
    assert pod["metadata"]["name"].startswith("hello-")
    assert len(pod["metadata"]["name"]) == len("hello-") + 5
    assert pod["status"]["phase"] == "Succeeded"
    terminated = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert terminated["exitCode"] == 0
    assert terminated["reason"] == "Completed"
    assert await _log(sim, pod["metadata"]["name"]) == b"hi\n"
    assert sim.events("hello", "SuccessfulCreate")
    assert sim.events("hello", "Completed")
    assert sim.events(pod["metadata"]["name"], "Scheduled")


async def test_exit_code_fails_job_past_backoff_limit(sim: Sim):
    sim.store.create("jobs", "default", sim.make_job("bad", "exit 3"))
    job = await sim.wait_for(lambda: (j := sim.job("bad")) and sim.condition(j, "Failed") and j)
    failed = sim.condition(job, "Failed")
    assert failed["reason"] == "BackoffLimitExceeded"
    assert job["status"]["failed"] == 1
    [pod] = sim.job_pods("bad")
    assert pod["status"]["phase"] == "Failed"
    terminated = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert (terminated["exitCode"], terminated["reason"]) == (3, "Error")
    assert sim.events("bad", "BackoffLimitExceeded")[0]["type"] == "Warning"


async def test_suspend_deletes_pods_and_resume_recreates(sim: Sim):
    sim.store.create("jobs", "default", sim.make_job("pausable", "sleep 30"))
    first = await sim.wait_for(
        lambda: [p for p in sim.job_pods("pausable") if p["status"].get("phase") == "Running"]
    )
    started = sim.job("pausable")["status"]["startTime"]

    def suspend(value: bool):
        def edit(job):
            job["spec"]["suspend"] = value

        return edit

    sim.store.mutate("jobs", "default", "pausable", suspend(True))
    job = await sim.wait_for(
        lambda: (
            (j := sim.job("pausable"))
            and sim.condition(j, "Suspended")
            and not sim.job_pods("pausable")
            and j
        )
    )
    assert sim.condition(job, "Suspended")["reason"] == "JobSuspended"
    assert not job["status"].get("active")
    assert not job["status"].get("failed")

    await __import__("asyncio").sleep(1.1)  # startTime has second precision
    sim.store.mutate("jobs", "default", "pausable", suspend(False))
    pods = await sim.wait_for(lambda: sim.job_pods("pausable"))
    assert pods[0]["metadata"]["name"] != first[0]["metadata"]["name"]
    job = sim.job("pausable")
    assert job["status"]["startTime"] > started
    [suspended] = [c for c in job["status"]["conditions"] if c["type"] == "Suspended"]
    assert (suspended["status"], suspended["reason"]) == ("False", "JobResumed")


async def test_job_created_suspended_has_no_pods(sim: Sim):
    sim.store.create("jobs", "default", sim.make_job("held", "echo x", suspend=True))
    job = await sim.wait_for(lambda: (j := sim.job("held")) and sim.condition(j, "Suspended") and j)
    assert "startTime" not in job["status"]
    assert sim.job_pods("held") == []


async def test_active_deadline_fails_job_and_kills_pod(sim: Sim):
    sim.store.create("jobs", "default", sim.make_job("slow", "sleep 30", activeDeadlineSeconds=1))
    job = await sim.wait_for(lambda: (j := sim.job("slow")) and sim.condition(j, "Failed") and j)
    assert sim.condition(job, "Failed")["reason"] == "DeadlineExceeded"
    assert sim.condition(job, "FailureTarget")
    await sim.wait_for(
        lambda: not [p for p in sim.job_pods("slow") if p["status"]["phase"] == "Running"]
    )


async def test_ttl_after_finished_deletes_job_and_pods(sim: Sim):
    sim.store.create("jobs", "default", sim.make_job("brief", "true", ttlSecondsAfterFinished=1))
    await sim.wait_for(lambda: (j := sim.job("brief")) and sim.condition(j, "Complete"))
    await sim.wait_for(lambda: not sim.store.list("jobs", "default")[0])
    await sim.wait_for(lambda: not sim.job_pods("brief"))


async def test_fail_job_rule_on_exit_code(sim: Sim):
    policy = {
        "rules": [
            {
                "action": "FailJob",
                "onExitCodes": {"containerName": "main", "operator": "In", "values": [42]},
            }
        ]
    }
    sim.store.create(
        "jobs", "default", sim.make_job("fatal", "exit 42", backoffLimit=5, podFailurePolicy=policy)
    )
    job = await sim.wait_for(lambda: (j := sim.job("fatal")) and sim.condition(j, "Failed") and j)
    failed = sim.condition(job, "Failed")
    assert failed["reason"] == "PodFailurePolicy"
    assert "exit code 42 matching FailJob rule at index 0" in failed["message"]


async def test_retries_until_backoff_limit(sim: Sim):
    sim.store.create(
        "jobs", "default", sim.make_job("flaky", "exit 1", backoffLimit=1, profile=None)
    )
    job = await sim.wait_for(lambda: (j := sim.job("flaky")) and sim.condition(j, "Failed") and j)
    assert job["status"]["failed"] == 2
    assert len(sim.job_pods("flaky")) == 2


async def test_completions_run_pods_until_enough_succeed(sim: Sim):
    sim.store.create(
        "jobs", "default", sim.make_job("many", "true", completions=3, parallelism=2, profile=None)
    )
    job = await sim.wait_for(lambda: (j := sim.job("many")) and sim.condition(j, "Complete") and j)
    assert job["status"]["succeeded"] == 3
    assert len(sim.job_pods("many")) == 3
