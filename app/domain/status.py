"""A run's lifecycle: derive its status from Kubernetes objects, and decide which changes apply.

`SUBMITTED → PENDING → RUNNING → COMPLETED | FAILED`, plus `CANCELLED`. Status never moves
backwards, with one exception: a preempted attempt goes back to `PENDING` (reason `PREEMPTED`)
and the next pod the Job controller creates is a new attempt. Duplicate, stale or out-of-order
watch events therefore decide to nothing, which is what makes concurrent writers harmless.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

MAIN_CONTAINER = "main"
PREEMPTED = "PREEMPTED"
CANCELLED = "CANCELLED"
# A suspended Job without a pod: the run waits in the platform's admission queue.
QUEUED = "Queued"
# A run past its time limit (its Kubernetes Job's activeDeadlineSeconds).
DEADLINE_EXCEEDED = "DEADLINE_EXCEEDED"
# Job failures that only follow a pod's failure: the pod tells the exit code.
POD_LED_FAILURES = frozenset({"BackoffLimitExceeded", "PodFailurePolicy"})


class RunStatus(enum.Enum):
    """Where a run is in its lifecycle."""

    SUBMITTED = "SUBMITTED"
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def terminal(self) -> bool:
        """True once the run can change no more."""
        return self in TERMINAL


TERMINAL = frozenset({RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED})
# Runs that still need what their Job names (its inputs, its secrets).
UNFINISHED = frozenset(RunStatus) - TERMINAL
_RANK = {
    RunStatus.SUBMITTED: 0,
    RunStatus.PENDING: 1,
    RunStatus.RUNNING: 2,
    RunStatus.COMPLETED: 3,
    RunStatus.FAILED: 3,
    RunStatus.CANCELLED: 3,
}


@dataclass(frozen=True)
class RunState:
    """What the platform knows of a run; the stored row's status fields."""

    status: RunStatus
    reason: str | None = None
    message: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    exit_code: int | None = None
    attempts: int = 0
    pod_uid: str | None = None
    pod_created_at: datetime | None = None


@dataclass(frozen=True)
class Observation:
    """The status a run's Kubernetes objects show right now."""

    status: RunStatus
    reason: str | None = None
    message: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    exit_code: int | None = None
    pod_uid: str | None = None
    pod_created_at: datetime | None = None


def parse_time(value: str | None) -> datetime | None:
    """Kubernetes timestamps (RFC 3339, `Z` suffix, optional fraction) as aware datetimes."""
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _condition(obj: Mapping[str, Any], type_: str) -> Mapping[str, Any] | None:
    for cond in obj.get("status", {}).get("conditions") or ():
        if cond.get("type") == type_ and cond.get("status") == "True":
            return dict(cond)
    return None


def _main_state(pod: Mapping[str, Any]) -> Mapping[str, Any]:
    for cs in pod.get("status", {}).get("containerStatuses") or ():
        if cs.get("name") == MAIN_CONTAINER:
            state: Mapping[str, Any] = cs.get("state") or {}
            return state
    return {}


def _terminated(obs: Observation, term: Mapping[str, Any]) -> Observation:
    code = term.get("exitCode")
    reason = term.get("reason") or ("Completed" if code == 0 else "Error")
    message = term.get("message") or (
        f"The main container exited with code {code}." if code else None
    )
    return replace(
        obs,
        status=RunStatus.COMPLETED if code == 0 else RunStatus.FAILED,
        reason=reason,
        message=message,
        started_at=parse_time(term.get("startedAt")) or obs.started_at,
        finished_at=parse_time(term.get("finishedAt")),
        exit_code=code,
    )


def derive_from_pod(pod: Mapping[str, Any]) -> Observation:
    """The status one pod of the run shows."""
    meta = pod.get("metadata", {})
    base = Observation(
        status=RunStatus.PENDING,
        pod_uid=meta.get("uid"),
        pod_created_at=parse_time(meta.get("creationTimestamp")),
    )
    disruption = _condition(pod, "DisruptionTarget")
    if disruption is not None:
        return replace(base, reason=PREEMPTED, message=disruption.get("message"))
    state = _main_state(pod)
    phase = pod.get("status", {}).get("phase")
    if "terminated" in state:
        return _terminated(base, state["terminated"])
    if phase in ("Succeeded", "Failed"):
        return replace(
            base,
            status=RunStatus.COMPLETED if phase == "Succeeded" else RunStatus.FAILED,
            reason=pod.get("status", {}).get("reason") or phase,
            message=pod.get("status", {}).get("message"),
        )
    if "running" in state:
        return replace(
            base,
            status=RunStatus.RUNNING,
            started_at=parse_time(state["running"].get("startedAt")),
        )
    for cond in pod.get("status", {}).get("conditions") or ():
        if cond.get("type") == "PodScheduled" and cond.get("status") == "False":
            return replace(base, reason=cond.get("reason"), message=cond.get("message"))
    waiting = state.get("waiting") or {}
    return replace(base, reason=waiting.get("reason"), message=waiting.get("message"))


def _past_deadline(job: Mapping[str, Any], observed: Observation | None) -> Observation | None:
    """A Job stopped for its time limit: FAILED with DEADLINE_EXCEEDED as soon as the Job says
    so (FailureTarget comes before its pods are stopped), whatever its container exits with."""
    verdict = _condition(job, "Failed") or _condition(job, "FailureTarget")
    if verdict is None or verdict.get("reason") != "DeadlineExceeded":
        return None
    limit = job.get("spec", {}).get("activeDeadlineSeconds")
    base = observed or Observation(status=RunStatus.FAILED)
    ended = base.status.terminal
    return replace(
        base,
        status=RunStatus.FAILED,
        reason=DEADLINE_EXCEEDED,
        message=f"The run went on longer than its time limit of {limit} s and was stopped.",
        exit_code=base.exit_code if ended else None,
        finished_at=(base.finished_at if ended else None)
        or parse_time(verdict.get("lastTransitionTime")),
    )


def derive(job: Mapping[str, Any] | None, pod: Mapping[str, Any] | None) -> Observation | None:
    """The status a run's Kubernetes Job and its newest pod show; None while nothing is known."""
    observed = derive_from_pod(pod) if pod is not None else None
    if job is not None:
        if (deadline := _past_deadline(job, observed)) is not None:
            return deadline
        failed = _condition(job, "Failed")
        complete = _condition(job, "Complete")
        finished = parse_time(job.get("status", {}).get("completionTime"))
        if complete is not None:
            base = observed or Observation(status=RunStatus.COMPLETED)
            return replace(
                base,
                status=RunStatus.COMPLETED,
                reason="Completed",
                message=None,
                exit_code=0 if base.exit_code is None else base.exit_code,
                finished_at=finished
                or base.finished_at
                or parse_time(complete.get("lastTransitionTime")),
            )
        if failed is not None:
            pod_led = failed.get("reason") in POD_LED_FAILURES
            if pod_led and observed is not None and not observed.status.terminal:
                # The Job saw the pod fail before our pod watch did: its exit code is on the way.
                return observed
            base = observed or Observation(status=RunStatus.FAILED)
            by_container = observed is not None and observed.status is RunStatus.FAILED
            return replace(
                base,
                status=RunStatus.FAILED,
                reason=base.reason if by_container else failed.get("reason"),
                message=base.message if by_container else failed.get("message"),
                finished_at=base.finished_at or parse_time(failed.get("lastTransitionTime")),
            )
        if observed is None and job.get("spec", {}).get("suspend"):
            return Observation(
                status=RunStatus.PENDING,
                reason=QUEUED,
                message="Waiting in the platform's admission queue.",
            )
    return observed


def _refined_end(state: RunState, obs: Observation) -> RunState | None:
    """A final status is final, but how it ended may arrive later: the Job can report its end
    before the pod watch delivers the pod (which was then the run's attempt) and the container's
    exit code, and a container killed for the run's time limit may be seen before the Job says
    why. Only those gaps are filled in."""
    if obs.status is not state.status:
        return None
    filled: dict[str, Any] = {}
    if state.pod_uid is None and obs.pod_uid is not None:
        filled.update(
            pod_uid=obs.pod_uid, pod_created_at=obs.pod_created_at, attempts=state.attempts + 1
        )
    if obs.reason == DEADLINE_EXCEEDED and state.reason not in (DEADLINE_EXCEEDED, CANCELLED):
        filled.update(reason=obs.reason, message=obs.message)
    elif state.exit_code is None and obs.exit_code is not None:
        filled.update(
            reason=obs.reason,
            message=obs.message,
            exit_code=obs.exit_code,
            started_at=state.started_at or obs.started_at,
            finished_at=obs.finished_at or state.finished_at,
        )
    return replace(state, **filled) if filled else None


def decide(state: RunState, obs: Observation) -> RunState | None:
    """The run's next state if the observation moves it forward; None when it changes nothing."""
    if state.status.terminal:
        return _refined_end(state, obs)
    new_attempt = obs.pod_uid is not None and obs.pod_uid != state.pod_uid
    if new_attempt and state.pod_created_at is not None:
        # creationTimestamp has one-second resolution: a replacement made in the same second as
        # the pod it replaces counts as newer only once that pod was preempted.
        if obs.pod_created_at is None or obs.pod_created_at < state.pod_created_at:
            return None  # an older pod than the one already followed
        if obs.pod_created_at == state.pod_created_at and state.reason != PREEMPTED:
            return None
    if not new_attempt:
        if state.reason == PREEMPTED and obs.pod_uid is not None:
            return None  # nothing of a preempted pod matters but its replacement
        if obs.reason == QUEUED and obs.pod_uid is None and state.status is RunStatus.PENDING:
            return None  # back in the queue: why it waits (PREEMPTED) says more
        preempting = obs.reason == PREEMPTED
        if not preempting:
            if _RANK[obs.status] < _RANK[state.status]:
                return None
            same = (obs.status, obs.reason, obs.message) == (
                state.status,
                state.reason,
                state.message,
            )
            if same:
                return None
    return RunState(
        status=obs.status,
        reason=obs.reason,
        message=obs.message,
        started_at=obs.started_at or (None if new_attempt else state.started_at),
        finished_at=obs.finished_at,
        exit_code=obs.exit_code,
        attempts=state.attempts + 1 if new_attempt else state.attempts,
        pod_uid=obs.pod_uid or state.pod_uid,
        pod_created_at=obs.pod_created_at or state.pod_created_at,
    )
