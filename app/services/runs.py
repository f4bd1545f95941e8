"""Recording a run's status: conditional writes, the timeline, and publishing the change."""

from __future__ import annotations

import copy
import logging
import weakref
from collections import OrderedDict
from dataclasses import replace
from datetime import UTC, datetime
from uuid import UUID

from tortoise.transactions import in_transaction

from app.db.models import Run, RunEvent
from app.domain.outputs import OutputsState, OutputsStatus
from app.domain.status import Observation, RunState, RunStatus, decide
from app.events.hub import Hub
from app.observability.metrics import observe_transition

log = logging.getLogger(__name__)

ALL_RUNS_TOPIC = "runs"
MAX_WRITE_ATTEMPTS = 8

# The newest version of each run published on each hub (the oldest entries go past the
# limit): a replica that finds a change another replica wrote tells its own subscribers once.
PUBLISHED_LIMIT = 100_000
_published: weakref.WeakKeyDictionary[Hub[Run], OrderedDict[str, int]] = weakref.WeakKeyDictionary()


def run_topic(run_id: UUID | str) -> str:
    """The hub topic carrying one run's changes."""
    return f"run:{run_id}"


def state_of(run: Run) -> RunState:
    """The domain's view of a stored run."""
    return RunState(
        status=run.status,
        reason=run.reason,
        message=run.message,
        started_at=run.started_at,
        finished_at=run.finished_at,
        exit_code=run.exit_code,
        attempts=run.attempts,
        pod_uid=run.pod_uid,
        pod_created_at=run.pod_created_at,
    )


def publish(hub: Hub[Run], run: Run) -> None:
    """Tell subscribers of the run, and of all runs, about its new state."""
    told = _published.setdefault(hub, OrderedDict())
    key = str(run.id)
    told[key] = max(run.version, told.pop(key, 0))
    if len(told) > PUBLISHED_LIMIT:
        told.popitem(last=False)
    hub.publish(run_topic(run.id), run)
    hub.publish(ALL_RUNS_TOPIC, run)


async def publish_if_new(hub: Hub[Run], run: Run) -> None:
    """Publish `run` unless this version of it (or a newer one) was published on `hub`; first
    the timeline entries since the last version published here, each as the run stood then,
    so that a subscriber misses no status whoever wrote it."""
    told = _published.get(hub)
    last = told.get(str(run.id)) if told is not None else None
    if last is not None and run.version <= last:
        return
    if last is not None and run.version > last + 1:
        between = RunEvent.filter(run_id=run.id, version__gt=last, version__lt=run.version)
        for event in await between.order_by("version"):
            publish(hub, _as_of(run, event))
    publish(hub, run)


def _as_of(run: Run, event: RunEvent) -> Run:
    """`run` as it stood at a timeline entry: its status then, and no times it had not yet."""
    then = copy.copy(run)
    then.status, then.reason, then.message = event.status, event.reason, event.message
    then.version = event.version
    if not event.status.terminal:
        then.finished_at, then.exit_code = None, None
    if event.status in (RunStatus.SUBMITTED, RunStatus.PENDING):
        then.started_at = None
    return then


async def _write(run: Run, new: RunState) -> bool:
    """Store `new` if nobody changed the run since it was read (optimistic concurrency)."""
    version = run.version + 1
    async with in_transaction():
        updated = await Run.filter(id=run.id, version=run.version).update(
            status=new.status,
            reason=new.reason,
            message=new.message,
            started_at=new.started_at,
            finished_at=new.finished_at,
            exit_code=new.exit_code,
            attempts=new.attempts,
            pod_uid=new.pod_uid,
            pod_created_at=new.pod_created_at,
            version=version,
        )
        if not updated:
            return False
        if (new.status, new.reason, new.message) != (run.status, run.reason, run.message):
            # The timeline holds changes a user reads: not a late exit code or pod filled in.
            await RunEvent.create(
                run_id=run.id,
                version=version,
                status=new.status,
                reason=new.reason,
                message=new.message,
            )
    observe_transition(run.status, new.status)
    for name, value in vars(new).items():
        setattr(run, name, value)
    run.version = version
    return True


async def apply_observation(hub: Hub[Run], run_id: UUID | str, obs: Observation) -> Run | None:
    """Move a run forward if the observation says so; returns the run when it changed.

    Another writer (a second replica, or this one's other watch) may win the race; then the
    run is read again and the decision retaken, so the outcome does not depend on who wins,
    and this replica's subscribers are told of the change whoever wrote it.
    """
    for _ in range(MAX_WRITE_ATTEMPTS):
        run = await Run.get_or_none(id=run_id)
        if run is None:
            return None
        new = decide(state_of(run), obs)
        if new is None:
            # Another replica may have written this very change first: only its subscribers
            # were told. Every replica observes the same change, so each tells its own.
            await publish_if_new(hub, run)
            return None
        if await _write(run, new):
            # What it read may hold entries another replica wrote: told here first.
            await publish_if_new(hub, run)
            return run
    log.warning("run %s: gave up after %d conflicting writes", run_id, MAX_WRITE_ATTEMPTS)
    return None


async def end_run(hub: Hub[Run], run: Run, status: RunStatus, reason: str, message: str) -> bool:
    """End an unfinished run for a platform-side reason (the cluster refused it, a user
    cancelled it); False when it had already ended, whoever ended it."""
    while not run.status.terminal:
        new = replace(
            state_of(run),
            status=status,
            reason=reason,
            message=message,
            finished_at=datetime.now(UTC),
        )
        if await _write(run, new):
            publish(hub, run)
            return True
        await run.refresh_from_db()
    return False


async def fail_run(hub: Hub[Run], run: Run, reason: str, message: str) -> Run:
    """Mark a run FAILED for a platform-side reason (e.g. the cluster refused it)."""
    if await end_run(hub, run, RunStatus.FAILED, reason, message):
        await settle_unstarted(hub, run)
    return run


async def settle_unstarted(hub: Hub[Run], run: Run) -> None:
    """A run ended by the platform before any pod of it was seen has no outputs: say so at
    once, so its subscribers need not wait for a pod that will never upload."""
    while run.pod_uid is None and run.outputs_status is None:
        state = OutputsState(OutputsStatus.NONE, "The run ended before it started.")
        if await record_outputs(hub, run, state):
            return
        await run.refresh_from_db()


async def record_outputs(hub: Hub[Run], run: Run, state: OutputsState) -> bool:
    """Store where a run's outputs are and tell its subscribers (a change of the run: its
    version goes up); False when another writer changed the run first or nothing changed."""
    if (run.outputs_status, run.outputs_message) == (state.status, state.message):
        return False
    version = run.version + 1
    updated = await Run.filter(id=run.id, version=run.version).update(
        outputs_status=state.status,
        outputs_message=state.message,
        outputs_bytes=state.bytes,
        version=version,
    )
    if not updated:
        return False
    run.outputs_status, run.version, run.outputs_bytes = state.status, version, state.bytes
    run.outputs_message = state.message  # type: ignore[assignment]
    await publish_if_new(hub, run)
    return True
