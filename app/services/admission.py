"""The admission queue on the Lease holder: read the state, ask the pure rules, apply them.

Every run's Kubernetes Job is created suspended. A pass reads the unfinished runs from the
database and the GPUs and pods from the watches, builds a `Snapshot`, asks
`app.domain.admission.plan` and carries the plan out:

- an admitted run is recorded first (a conditional write: only a run still queued is admitted,
  so two replicas never admit one twice), then its Job is un-suspended, pinned to the chosen
  node (`nodeSelector`, mutable on a suspended Job), where walk:ai nos cuts its slice;
- a victim goes back to the queue (PENDING, reason PREEMPTED, its attempt's GPU time added to
  its account), then its Job is suspended: the pod stops with its grace period, its outputs are
  uploaded, and its slices count as being freed until the pod is gone;
- every run left waiting gets its reason, a sentence and its positions, written (and published
  to `runStatus` / `runsChanged`) only when they changed.

Passes run when something changes (a run is submitted or ends, a pod or node changes) and at
least every `interval` seconds, never more often than every `min_gap` seconds. A replica that
takes over rebuilds everything from the database and the cluster: the loop keeps no state.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from app.db.models import Run, RunEvent
from app.domain import admission
from app.domain.admission import AdmittedRun, Gpu, Plan, Policy, QueuedRun, Quota, Snapshot
from app.domain.mig import profile_units
from app.domain.status import PREEMPTED, UNFINISHED, RunStatus
from app.events.hub import Hub, Lagged
from app.kube.informer import Informer
from app.kube.inventory import HOSTNAME, inventory, parse_slot, slot
from app.kube.labels import RUN_ID, kube_job_name
from app.services.control import suspend_kube_job
from app.services.leader import LeaderTask
from app.services.runs import ALL_RUNS_TOPIC, publish, state_of
from app.services.tracker import RunTracker

log = logging.getLogger(__name__)

Obj = dict[str, Any]
# Owners' quotas and recent usage: (owners, now) -> quotas; now -> usage.
QuotaSource = Callable[[list[str], datetime], Awaitable[Mapping[str, Quota]]]
UsageSource = Callable[[datetime], Awaitable[Mapping[str, float]]]
FINISHED_PHASES = ("Succeeded", "Failed")


def profile_units_of(profile: str) -> int:
    """Compute slices of a profile (0 for a name the geometry does not know)."""
    try:
        return profile_units(profile)[0]
    except ValueError:
        return 0


def _slice_seconds(run: Run, profile: str, now: datetime) -> float:
    """The compute-slice-seconds an admitted run used in this attempt, accounted when it
    leaves the GPU (preempted, evicted)."""
    if run.started_at is None:
        return 0.0
    return profile_units_of(profile) * (now - run.started_at).total_seconds()


def owner_of(owner_id: object, team_id: object) -> str:
    """The owner a run counts for: its team for a team Job, else its user."""
    return f"team:{team_id}" if team_id is not None else f"user:{owner_id}"


@dataclass
class _Row:
    """What a pass reads of one unfinished run."""

    id: str
    owner: str
    profile: str
    priority: Any
    status: RunStatus
    reason: str | None
    submitted_at: datetime
    admitted_at: datetime | None
    gpu_slot: str | None
    max_runtime_seconds: int | None
    pending: tuple[str | None, str | None, int | None, int | None]


class AdmissionLoop(LeaderTask):
    """Admits queued runs in the order and on the GPUs the rules decide; runs on the leader."""

    task_name = "admission"

    def __init__(
        self,
        api: client.ApiClient,
        namespace: str,
        hub: Hub[Run],
        tracker: RunTracker,
        nodes: Informer,
        *,
        resource_prefix: str,
        policy: Policy,
        quotas: QuotaSource | None = None,
        usage: UsageSource | None = None,
        interval: float = 5.0,
        min_gap: float = 0.2,
        eviction_backoff: float = 60.0,
    ) -> None:
        super().__init__()
        self._api, self._namespace, self._hub = api, namespace, hub
        self._batch = client.BatchV1Api(api)
        self._tracker, self._nodes = tracker, nodes
        self.prefix, self.policy = resource_prefix, policy
        self._quotas, self._usage = quotas, usage
        self.interval, self.min_gap = interval, min_gap
        self.passes = 0
        # Runs this loop admitted (a conditional write it won).
        self.admissions = 0
        # The last pass's queue length (for /metrics).
        self.queue_length = 0
        # Runs the cluster evicted wait this long before a pass may admit them again (as
        # Kueue's requeuing back-off): the GPU they lost may now hold another workload's pod,
        # which the platform's GPU view does not see. Run id -> monotonic time it ends.
        self.eviction_backoff = eviction_backoff
        self._held: dict[str, float] = {}

    # -- lifecycle -------------------------------------------------------------------------

    def poke(self) -> None:
        """Something changed: run a pass soon."""
        self._wake.set()

    async def on_pod(self, kind: str, pod: Obj) -> None:
        """A pod that ends or goes frees slices: pass again (tracker pod listener)."""
        phase = (pod.get("status") or {}).get("phase")
        if (
            kind == "DELETED"
            or phase in FINISHED_PHASES
            or pod["metadata"].get("deletionTimestamp")
        ):
            self.poke()

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        with self._hub.subscribe(ALL_RUNS_TOPIC) as feed:
            watcher = asyncio.create_task(self._watch_runs(feed))
            try:
                while True:
                    self._wake.clear()
                    started = loop.time()
                    try:
                        await self.run_pass()
                    except asyncio.CancelledError:
                        raise
                    except Exception:
                        log.exception("admission pass failed; retrying")
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), self.interval)
                    await asyncio.sleep(max(0.0, started + self.min_gap - loop.time()))
            finally:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher

    async def _watch_runs(self, feed: Any) -> None:
        """A run submitted, ended, or back in the queue: pass again."""
        while True:
            try:
                batch = await feed.next_batch()
            except Lagged:
                self.poke()  # changes were missed: a pass reads them all anyway
                continue
            for run in batch:
                if (
                    run.status is RunStatus.SUBMITTED
                    or run.status.terminal
                    or (run.admitted_at is None and run.status is RunStatus.PENDING)
                ):
                    self.poke()
                    break

    async def requeue_evicted(self, run: Run) -> None:
        """The cluster took an admitted run's pod away (its DisruptionTarget): back to the
        queue like a run the platform preempts, and its Job suspended so that no replacement
        pod starts outside the queue. Idempotent: every replica's tracker may call it."""
        if run.admitted_at is None:
            return
        self._held[str(run.id)] = time.monotonic() + self.eviction_backoff
        asyncio.get_running_loop().call_later(self.eviction_backoff, self.poke)
        # Suspend before the run looks queued: once admitted_at is cleared, a pass may admit it
        # again, and a suspension arriving after that would stop an admitted run.
        current = await Run.filter(id=run.id).first().values("admitted_at", profile="job__gpu")
        if current is None or current["admitted_at"] != run.admitted_at:
            return  # another replica requeued it already (and it may be admitted again)
        await suspend_kube_job(self._api, self._namespace, run.kube_name)
        used = _slice_seconds(run, str(current["profile"]), datetime.now(UTC))
        updated = await Run.filter(id=run.id, admitted_at=run.admitted_at).update(
            admitted_at=None,
            slice_seconds=F("slice_seconds") + used,
            pending_reason=PREEMPTED,
            pending_message=(
                "The cluster stopped its pod (evicted); requeued, it may run again in "
                f"{self.eviction_backoff:g} s."
            ),
            version=F("version") + 1,
        )
        if updated:
            await self._publish(str(run.id))
            self.poke()

    # -- one pass --------------------------------------------------------------------------

    async def run_pass(self) -> Plan:
        """Read, decide, apply."""
        now = datetime.now(UTC)
        rows = self._unheld(await self._rows())
        snapshot = await self._snapshot(now, rows)
        plan = admission.plan(snapshot, self.policy)
        by_id = {row.id: row for row in rows}
        for preemption in plan.preempt:
            await self._preempt(by_id[preemption.victim_id], by_id[preemption.for_run_id], now)
        for admitted in plan.admit:
            await self._admit(by_id[admitted.run_id], admitted.node, admitted.gpu_index, now)
        await self._write_waiting(plan, by_id)
        await self._write_repartition(snapshot, by_id)
        self.passes += 1
        self.queue_length = len(plan.waiting)
        return plan

    def _unheld(self, rows: list[_Row]) -> list[_Row]:
        """The rows but those of runs in their eviction back-off (which ended ones leave)."""
        clock = time.monotonic()
        self._held = {run_id: end for run_id, end in self._held.items() if end > clock}
        return [row for row in rows if row.id not in self._held]

    async def _rows(self) -> list[_Row]:
        values = await Run.filter(status__in=list(UNFINISHED)).values(
            "id",
            "owner_id",
            "team_id",
            "priority",
            "status",
            "reason",
            "submitted_at",
            "admitted_at",
            "gpu_slot",
            "max_runtime_seconds",
            "pending_reason",
            "pending_message",
            "queue_position",
            "owner_queue_position",
            profile="job__gpu",
        )
        return [
            _Row(
                id=str(v["id"]),
                owner=owner_of(v["owner_id"], v["team_id"]),
                profile=v["profile"],
                priority=v["priority"],
                status=v["status"],
                reason=v["reason"],
                submitted_at=v["submitted_at"],
                admitted_at=v["admitted_at"],
                gpu_slot=v["gpu_slot"],
                max_runtime_seconds=v["max_runtime_seconds"],
                pending=(
                    v["pending_reason"],
                    v["pending_message"],
                    v["queue_position"],
                    v["owner_queue_position"],
                ),
            )
            for v in values
        ]

    async def _snapshot(self, now: datetime, rows: list[_Row]) -> Snapshot:
        jobs = self._tracker.jobs.cache
        queued: list[QueuedRun] = []
        admitted: list[AdmittedRun] = []
        for row in rows:
            if row.admitted_at is None:
                if kube_job_name(row.id) not in jobs:
                    continue  # its Kubernetes Job is still being created
                queued.append(
                    QueuedRun(
                        id=row.id,
                        owner=row.owner,
                        profile=row.profile,
                        priority=row.priority,
                        submitted_at=row.submitted_at,
                        preempted=row.reason == PREEMPTED,
                    )
                )
            else:
                deadline = (
                    row.admitted_at + timedelta(seconds=row.max_runtime_seconds)
                    if row.max_runtime_seconds
                    else None
                )
                admitted.append(
                    AdmittedRun(
                        id=row.id,
                        owner=row.owner,
                        profile=row.profile,
                        priority=row.priority,
                        admitted_at=row.admitted_at,
                        gpu=parse_slot(row.gpu_slot),
                        deadline=deadline,
                    )
                )
        gpus = await self._gpus({row.id for row in rows if row.admitted_at is not None})
        owners = sorted({r.owner for r in queued} | {r.owner for r in admitted})
        quotas = await self._quotas(owners, now) if self._quotas and owners else {}
        usage = await self._usage(now) if self._usage else {}
        return Snapshot(now, gpus, queued, admitted, usage, quotas)

    async def _gpus(self, admitted: set[str]) -> list[Gpu]:
        """The cluster's GPUs, with the slices of pods still stopping (runs no longer admitted:
        preempted, cancelled or ended, whose pod holds its slice until it is gone)."""
        gpus = inventory(self._nodes.cache.values(), self.prefix)
        stopping: dict[str, str] = {}  # run id -> profile of its pod
        for pod in self._tracker.pods.cache.values():
            run_id = (pod["metadata"].get("labels") or {}).get(RUN_ID)
            phase = (pod.get("status") or {}).get("phase")
            if run_id is None or run_id in admitted or phase in FINISHED_PHASES:
                continue
            if profile := self._profile_of(pod):
                stopping[run_id] = profile
        if not stopping:
            return gpus
        slots = dict(
            await Run.filter(id__in=list(stopping), gpu_slot__not_isnull=True).values_list(
                "id", "gpu_slot"
            )
        )
        releasing: dict[tuple[str, int], list[str]] = {}
        for run_id, text in slots.items():
            where = parse_slot(text)
            if where is not None:
                releasing.setdefault(where, []).append(stopping[str(run_id)])
        return [replace(g, releasing=tuple(releasing.get((g.node, g.index), ()))) for g in gpus]

    def _profile_of(self, pod: Obj) -> str | None:
        for container in (pod.get("spec") or {}).get("containers") or ():
            for name in (container.get("resources") or {}).get("limits") or {}:
                if name.startswith(self.prefix):
                    return str(name[len(self.prefix) :])
        return None

    # -- applying --------------------------------------------------------------------------

    async def _admit(self, row: _Row, node: str, index: int, now: datetime) -> None:
        """Record the admission (only if the run is still queued), then let its Job run."""
        updated = await Run.filter(
            id=row.id,
            admitted_at=None,
            status__in=[RunStatus.SUBMITTED, RunStatus.PENDING],
        ).update(
            admitted_at=now,
            gpu_slot=slot(node, index),
            pending_reason=None,
            pending_message=None,
            queue_position=None,
            owner_queue_position=None,
            version=F("version") + 1,
        )
        if not updated:
            return
        self.admissions += 1
        body = {
            "spec": {
                "suspend": False,
                "template": {"spec": {"nodeSelector": {HOSTNAME: node}}},
            }
        }
        try:
            await self._batch.patch_namespaced_job(kube_job_name(row.id), self._namespace, body)
        except (ApiException, aiohttp.ClientError, OSError, TimeoutError) as exc:
            # Refused, or the API server unreachable: back to the queue, or the run would stay
            # admitted while its Job stays suspended, and no pass would look at it again.
            log.warning("admitting run %s failed: %r", row.id, exc)
            await Run.filter(id=row.id).update(admitted_at=None, version=F("version") + 1)
        await self._publish(row.id)

    async def _preempt(self, victim: _Row, preemptor: _Row, now: datetime) -> None:
        """Send a running run back to the queue, then stop its pod.

        Recorded first (conditional on the run's version): a run that changed meanwhile is left
        alone for the next pass to decide. Passes run one at a time, so none admits it again
        before the suspension lands; one that fails is repaired by the clean-up pass, which
        suspends the Jobs of queued runs."""
        run = await Run.get_or_none(id=victim.id)
        if run is None or run.status.terminal or run.admitted_at is None:
            return
        used = _slice_seconds(run, victim.profile, now)
        message = (
            f"Preempted for a {preemptor.priority.value} run that needs "
            f"{victim.profile}'s GPU; requeued."
        )
        new = replace(state_of(run), status=RunStatus.PENDING, reason=PREEMPTED, message=message)
        version = run.version + 1
        async with in_transaction():
            updated = await Run.filter(id=run.id, version=run.version).update(
                status=new.status,
                reason=new.reason,
                message=new.message,
                version=version,
                admitted_at=None,
                slice_seconds=F("slice_seconds") + used,
                pending_reason=PREEMPTED,
                pending_message=message,
            )
            if not updated:
                return  # it changed meanwhile: the next pass decides again
            await RunEvent.create(
                run_id=run.id, version=version, status=new.status, reason=PREEMPTED,
                message=message,
            )  # fmt: skip
        await suspend_kube_job(self._api, self._namespace, run.kube_name)
        await self._publish(victim.id)

    async def _write_waiting(self, plan: Plan, rows: Mapping[str, _Row]) -> None:
        """Store each waiting run's reason, sentence and positions when they changed."""
        changed = []
        for run_id, waiting in plan.waiting.items():
            wanted = (
                waiting.reason.value,
                waiting.message,
                waiting.queue_position,
                waiting.owner_queue_position,
            )
            if rows[run_id].pending == wanted:
                continue
            updated = await Run.filter(id=run_id, admitted_at=None).update(
                pending_reason=wanted[0],
                pending_message=wanted[1],
                queue_position=wanted[2],
                owner_queue_position=wanted[3],
                version=F("version") + 1,
            )
            if updated:
                changed.append(run_id)
        await self._publish(*changed)

    async def _write_repartition(self, snapshot: Snapshot, rows: Mapping[str, _Row]) -> None:
        """An admitted run whose pod waits for its slice to be cut says so."""
        changed = []
        for run in snapshot.admitted:
            row = rows[run.id]
            waits = row.status is RunStatus.PENDING and row.reason == "Unschedulable"
            wanted = admission.PendingReason.WAITING_FOR_REPARTITION.value if waits else None
            if row.pending[0] == wanted:
                continue
            message = (
                f"Admitted to GPU {row.gpu_slot}; waiting for its {row.profile} slice to be cut."
                if waits
                else None
            )
            await Run.filter(id=run.id).update(
                pending_reason=wanted, pending_message=message, version=F("version") + 1
            )
            changed.append(run.id)
        await self._publish(*changed)

    async def _publish(self, *run_ids: str) -> None:
        if not run_ids:
            return
        for run in await Run.filter(id__in=list(run_ids)):
            publish(self._hub, run)
