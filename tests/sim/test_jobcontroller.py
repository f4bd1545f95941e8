"""Jobs run to completion or failure through the Job controller, scheduler and kubelet."""

from __future__ import annotations

import pytest

pytest.register_assert_rewrite("tests.sim.conftest_controllers")

from tests.sim.conftest_controllers import Sim, make_job  # noqa: E402

pytest_plugins = ["tests.sim.conftest_controllers"]


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
    sim.store.create("jobs", "default", make_job("hello", "echo hi; sleep 1"))
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
    sim.store.create("jobs", "default", make_job("bad", "exit 3"))
    job = await sim.wait_for(lambda: (j := sim.job("bad")) and sim.condition(j, "Failed") and j)
    failed = sim.condition(job, "Failed")
    assert failed["reason"] == "BackoffLimitExceeded"
    assert job["status"]["failed"] == 1
    [pod] = sim.job_pods("bad")
    assert pod["status"]["phase"] == "Failed"
    terminated = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert (terminated["exitCode"], terminated["reason"]) == (3, "Error")
    assert sim.events("bad", "BackoffLimitExceeded")[0]["type"] == "Warning"
