"""Status derivation from (Job, pod), and the forward-only state machine, as tables."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from app.domain.status import (
    CANCELLED,
    DEADLINE_EXCEEDED,
    PREEMPTED,
    Observation,
    RunState,
    RunStatus,
    decide,
    derive,
)

T0 = "2026-11-27T10:00:00Z"
T1 = "2026-11-27T10:00:05Z"
T2 = "2026-11-27T10:01:00Z"


def pod(
    *,
    uid: str = "p1",
    created: str = T0,
    phase: str = "Pending",
    main: dict[str, Any] | None = None,
    conditions: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    status: dict[str, Any] = {"phase": phase, "conditions": conditions or []}
    if main is not None:
        status["containerStatuses"] = [{"name": "main", "state": main}]
    return {"metadata": {"uid": uid, "creationTimestamp": created}, "status": status}


def job(*conditions: tuple[str, str, str], suspend: bool = False) -> dict[str, Any]:
    return {
        "spec": {"suspend": suspend},
        "status": {
            "conditions": [
                {"type": t, "status": "True", "reason": r, "message": m} for t, r, m in conditions
            ],
            **({"completionTime": T2} if any(c[0] == "Complete" for c in conditions) else {}),
        },
    }


UNSCHEDULABLE = {
    "type": "PodScheduled",
    "status": "False",
    "reason": "Unschedulable",
    "message": "0/2 nodes are available: 2 Insufficient nvidia.com/mig-7g.80gb.",
}


@pytest.mark.parametrize(
    ("job_obj", "pod_obj", "status", "reason", "exit_code"),
    [
        (None, None, None, None, None),
        (job(), None, None, None, None),
        (job(suspend=True), None, RunStatus.PENDING, "Queued", None),
        (None, pod(conditions=[UNSCHEDULABLE]), RunStatus.PENDING, "Unschedulable", None),
        (
            None,
            pod(main={"waiting": {"reason": "ContainerCreating"}}),
            RunStatus.PENDING,
            "ContainerCreating",
            None,
        ),
        (
            None,
            pod(phase="Running", main={"running": {"startedAt": T1}}),
            RunStatus.RUNNING,
            None,
            None,
        ),
        (
            None,
            pod(phase="Failed", main={"terminated": {"exitCode": 3, "reason": "Error"}}),
            RunStatus.FAILED,
            "Error",
            3,
        ),
        (
            None,
            pod(phase="Failed", main={"terminated": {"exitCode": 137, "reason": "OOMKilled"}}),
            RunStatus.FAILED,
            "OOMKilled",
            137,
        ),
        (
            job(("Complete", "", "")),
            pod(phase="Succeeded", main={"terminated": {"exitCode": 0, "reason": "Completed"}}),
            RunStatus.COMPLETED,
            "Completed",
            0,
        ),
        (job(("Complete", "", "")), None, RunStatus.COMPLETED, "Completed", 0),
        (
            job(("Failed", "DeadlineExceeded", "Job was active longer than specified deadline")),
            pod(phase="Running", main={"running": {"startedAt": T1}}),
            RunStatus.FAILED,
            DEADLINE_EXCEEDED,
            None,
        ),
        (
            job(("FailureTarget", "DeadlineExceeded", "Job was active longer than specified")),
            pod(phase="Failed", main={"terminated": {"exitCode": 143, "reason": "Error"}}),
            RunStatus.FAILED,
            DEADLINE_EXCEEDED,
            143,
        ),
        (
            job(("Failed", "BackoffLimitExceeded", "Job has reached the specified backoff limit")),
            pod(phase="Failed", main={"terminated": {"exitCode": 3, "reason": "Error"}}),
            RunStatus.FAILED,
            "Error",
            3,
        ),
        (
            None,
            pod(
                phase="Running",
                main={"running": {"startedAt": T1}},
                conditions=[
                    {
                        "type": "DisruptionTarget",
                        "status": "True",
                        "reason": "PreemptionByScheduler",
                        "message": "preempted by a higher priority pod",
                    }
                ],
            ),
            RunStatus.PENDING,
            PREEMPTED,
            None,
        ),
    ],
)
def test_derive(
    job_obj: dict[str, Any] | None,
    pod_obj: dict[str, Any] | None,
    status: RunStatus | None,
    reason: str | None,
    exit_code: int | None,
) -> None:
    obs = derive(job_obj, pod_obj)
    if status is None:
        assert obs is None
        return
    assert obs is not None
    assert (obs.status, obs.reason, obs.exit_code) == (status, reason, exit_code)


def test_unschedulable_message_is_the_schedulers() -> None:
    obs = derive(None, pod(conditions=[UNSCHEDULABLE]))
    assert obs is not None and obs.message == UNSCHEDULABLE["message"]


def at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def step(state: RunState, obs: Observation) -> RunState:
    new = decide(state, obs)
    return state if new is None else new


def test_forward_path_and_duplicates_are_noops() -> None:
    state = RunState(status=RunStatus.SUBMITTED)
    pending = Observation(
        RunStatus.PENDING, "ContainerCreating", pod_uid="p1", pod_created_at=at(T0)
    )
    running = Observation(RunStatus.RUNNING, pod_uid="p1", pod_created_at=at(T0), started_at=at(T1))
    done = Observation(
        RunStatus.COMPLETED, "Completed", exit_code=0, pod_uid="p1", pod_created_at=at(T0)
    )
    state = step(state, pending)
    assert (state.status, state.attempts) == (RunStatus.PENDING, 1)
    assert decide(state, pending) is None  # duplicate
    state = step(state, running)
    assert decide(state, pending) is None  # out of order: never backwards
    state = step(state, done)
    assert state.status is RunStatus.COMPLETED and state.started_at == at(T1)
    assert decide(state, running) is None  # terminal is final
    assert decide(state, Observation(RunStatus.FAILED)) is None


def test_same_status_with_a_new_reason_is_recorded() -> None:
    state = RunState(status=RunStatus.PENDING, reason="ContainerCreating", attempts=1, pod_uid="p1")
    new = decide(state, Observation(RunStatus.PENDING, "Unschedulable", "0/2 nodes", pod_uid="p1"))
    assert new is not None and new.reason == "Unschedulable"


def test_preemption_requeues_and_the_next_pod_is_a_new_attempt() -> None:
    state = RunState(
        status=RunStatus.RUNNING, attempts=1, pod_uid="p1", pod_created_at=at(T0), started_at=at(T1)
    )
    preempted = Observation(
        RunStatus.PENDING, PREEMPTED, "evicted", pod_uid="p1", pod_created_at=at(T0)
    )
    state = step(state, preempted)
    assert (state.status, state.reason, state.attempts) == (RunStatus.PENDING, PREEMPTED, 1)
    # Later events of the preempted pod (it fails as it is killed) change nothing.
    killed = Observation(
        RunStatus.FAILED, "Error", exit_code=143, pod_uid="p1", pod_created_at=at(T0)
    )
    assert decide(state, killed) is None
    replacement = Observation(
        RunStatus.PENDING, "Unschedulable", pod_uid="p2", pod_created_at=at(T2)
    )
    state = step(state, replacement)
    assert (state.status, state.reason, state.attempts) == (RunStatus.PENDING, "Unschedulable", 2)
    assert state.started_at is None
    # An event of the older pod arriving late is stale.
    assert (
        decide(state, Observation(RunStatus.RUNNING, pod_uid="p1", pod_created_at=at(T0))) is None
    )


def test_a_failed_submission_is_terminal() -> None:
    state = RunState(status=RunStatus.FAILED, reason="SubmitFailed")
    assert decide(state, Observation(RunStatus.RUNNING, pod_uid="p1")) is None


def test_time_parsing_is_utc() -> None:
    assert at(T0).tzinfo is not None and at(T0) == datetime(2026, 11, 27, 10, tzinfo=UTC)


def test_a_job_failure_seen_before_the_pod_failure_waits_for_the_exit_code() -> None:
    failed_job = job(
        ("Failed", "BackoffLimitExceeded", "Job has reached the specified backoff limit")
    )
    running_pod = pod(phase="Running", main={"running": {"startedAt": T1}})
    early = derive(failed_job, running_pod)
    assert early is not None and early.status is RunStatus.RUNNING
    gone = derive(failed_job, None)
    assert gone is not None and gone.status is RunStatus.FAILED
    assert gone.reason == "BackoffLimitExceeded"


def test_a_replacement_created_in_the_same_second_is_a_new_attempt_after_preemption() -> None:
    state = RunState(
        status=RunStatus.PENDING, reason=PREEMPTED, attempts=1, pod_uid="p1", pod_created_at=at(T0)
    )
    replacement = Observation(
        RunStatus.PENDING, "Unschedulable", pod_uid="p2", pod_created_at=at(T0)
    )
    new = decide(state, replacement)
    assert new is not None and new.attempts == 2 and new.pod_uid == "p2"
    # ...but without a preemption, a same-second pod is not taken for a newer one.
    running = RunState(status=RunStatus.RUNNING, attempts=1, pod_uid="p1", pod_created_at=at(T0))
    assert decide(running, replacement) is None


def test_an_exit_code_arriving_after_the_failure_completes_the_record() -> None:
    failed = RunState(status=RunStatus.FAILED, reason="BackoffLimitExceeded", attempts=0)
    late = Observation(RunStatus.FAILED, "Error", "exited with 3", exit_code=3, pod_uid="p1")
    new = decide(failed, late)
    assert new is not None
    assert (new.status, new.reason, new.exit_code) == (RunStatus.FAILED, "Error", 3)
    assert (new.attempts, new.pod_uid) == (1, "p1")  # the pod that failed was an attempt
    assert decide(new, late) is None  # once known, the end is not rewritten
    assert decide(failed, Observation(RunStatus.RUNNING, pod_uid="p1")) is None
    done = RunState(status=RunStatus.COMPLETED, exit_code=0)
    assert decide(done, late) is None


def test_a_short_run_whose_job_completed_before_its_pod_was_seen_counts_that_pod() -> None:
    # The Job watch can report success before the pod watch delivers the pod at all.
    done = decide(RunState(status=RunStatus.PENDING), Observation(RunStatus.COMPLETED))
    assert done is not None and done.attempts == 0
    pod_seen = Observation(
        RunStatus.COMPLETED, "Completed", exit_code=0, pod_uid="p1", pod_created_at=at(T0)
    )
    new = decide(done, pod_seen)
    assert new is not None
    assert (new.status, new.attempts, new.pod_uid, new.exit_code) == (
        RunStatus.COMPLETED,
        1,
        "p1",
        0,
    )
    assert decide(new, pod_seen) is None


def test_a_container_killed_for_the_time_limit_is_explained_when_the_job_says_why() -> None:
    # The pod watch can show the SIGTERM's exit before the Job's DeadlineExceeded arrives.
    killed = RunState(status=RunStatus.FAILED, reason="Error", exit_code=143, attempts=1)
    verdict = derive(
        job(("FailureTarget", "DeadlineExceeded", "Job was active longer than specified")),
        pod(phase="Failed", main={"terminated": {"exitCode": 143, "reason": "Error"}}),
    )
    assert verdict is not None
    new = decide(killed, verdict)
    assert new is not None
    assert (new.reason, new.exit_code) == (DEADLINE_EXCEEDED, 143)
    assert new.message is not None and "time limit" in new.message
    assert decide(new, verdict) is None
    # A run cancelled on request stays cancelled, whatever the Job says afterwards.
    cancelled = RunState(status=RunStatus.CANCELLED, reason=CANCELLED)
    assert decide(cancelled, verdict) is None
