"""What the cluster has, what is used and what waits: the view behind `cluster`/`clusterChanged`.

The view is built from what the platform already knows, the way the admission loop sees it: the
GPUs from the watched Nodes, each admitted run's partition at its stored GPU slot, the slices of
pods still stopping (runs no longer admitted whose pod holds its slice until it is gone), and the
queue (runs not admitted yet). The aggregation is pure (`build_view`), so it is table-tested; the
reading (`read_cluster`) and the live feed (`CapacityFeed`, one per process) are thin.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import weakref
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from uuid import UUID

from tortoise.expressions import Q

from app.db.models import Run
from app.domain.admission import Gpu
from app.domain.mig import COMPUTE_SLICES, MEMORY_SLICES, cuttable_profiles, profile_units
from app.domain.priority import PRIORITY_VALUES, Priority
from app.domain.status import UNFINISHED
from app.events.hub import Hub, Lagged
from app.kube.inventory import inventory, parse_slot
from app.kube.labels import RUN_ID
from app.services.runs import ALL_RUNS_TOPIC

if TYPE_CHECKING:
    from app.services.platform import Platform

log = logging.getLogger(__name__)

FINISHED_PHASES = ("Succeeded", "Failed")
# Highest first: the order a capacity screen lists them in.
PRIORITIES: tuple[Priority, ...] = tuple(
    sorted(Priority, key=lambda p: PRIORITY_VALUES[p], reverse=True)
)


class PartitionStatus(enum.Enum):
    """Whether a partition's run holds it, or its pod is stopping and the slices come free."""

    IN_USE = "IN_USE"
    FREEING = "FREEING"


# -- plain inputs ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PlacedRun:
    """A run that holds slices on a GPU: admitted, or not any more but its pod still stops."""

    run_id: str
    profile: str
    priority: Priority
    slot: tuple[str, int] | None
    freeing: bool = False


@dataclass(frozen=True)
class QueuedRun:
    """A run waiting for admission."""

    profile: str
    priority: Priority


# -- the view -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Slices:
    """A count of slices: how many there are, are taken and are left."""

    total: int
    used: int

    @property
    def free(self) -> int:
        """What is left (never negative, even if bookkeeping over-counts)."""
        return max(0, self.total - self.used)


@dataclass(frozen=True)
class Partition:
    """One instance cut on a GPU for a run."""

    profile: str
    run_id: str
    priority: Priority
    status: PartitionStatus

    @property
    def compute_slices(self) -> int:
        """Compute slices the instance takes."""
        return profile_units(self.profile)[0]


@dataclass(frozen=True)
class GpuView:
    """One GPU: its slices, the partitions on it, and what could still be cut there."""

    index: int
    model: str
    compute: Slices
    memory: Slices
    partitions: tuple[Partition, ...]
    cuttable: tuple[str, ...]


@dataclass(frozen=True)
class NodeView:
    """One node and its GPUs."""

    name: str
    gpus: tuple[GpuView, ...]


@dataclass(frozen=True)
class Totals:
    """The whole cluster's GPUs and slices."""

    gpus: int
    compute: Slices
    memory: Slices


@dataclass(frozen=True)
class Load:
    """How many runs and compute slices a profile (queued) or priority (admitted) stands for."""

    key: str
    runs: int
    compute_slices: int


@dataclass(frozen=True)
class ClusterView:
    """The capacity view; equal views mean nothing a client shows has changed."""

    nodes: tuple[NodeView, ...]
    totals: Totals
    queued_demand: tuple[Load, ...]
    running_by_priority: tuple[Load, ...]


# -- pure aggregation -----------------------------------------------------------------------


def _size(profile: str) -> tuple[int, int, str]:
    try:
        compute, memory = profile_units(profile)
    except ValueError:
        return (COMPUTE_SLICES + 1, MEMORY_SLICES + 1, profile)
    return (compute, memory, profile)


def _units(profile: str) -> tuple[int, int]:
    """A profile's slices; an unknown name (a misconfigured Job) takes none."""
    try:
        return profile_units(profile)
    except ValueError:
        return (0, 0)


def gpu_view(gpu: Gpu, placed: Sequence[PlacedRun]) -> GpuView:
    """One GPU with the runs placed on it (in-use partitions first, then those being freed)."""
    ordered = sorted(placed, key=lambda r: (r.freeing, -_size(r.profile)[0], r.run_id))
    partitions = tuple(
        Partition(
            profile=r.profile,
            run_id=r.run_id,
            priority=r.priority,
            status=PartitionStatus.FREEING if r.freeing else PartitionStatus.IN_USE,
        )
        for r in ordered
    )
    held = [p.profile for p in partitions if _units(p.profile) != (0, 0)]
    allowed = sorted(gpu.profiles, key=_size)
    return GpuView(
        index=gpu.index,
        model=gpu.model,
        compute=Slices(COMPUTE_SLICES, sum(_units(p)[0] for p in held)),
        memory=Slices(MEMORY_SLICES, sum(_units(p)[1] for p in held)),
        partitions=partitions,
        cuttable=tuple(cuttable_profiles(held, [p for p in allowed if _units(p) != (0, 0)])),
    )


def queued_demand(queued: Iterable[QueuedRun]) -> tuple[Load, ...]:
    """Queued runs and their compute slices per profile, smallest profile first."""
    counts: dict[str, int] = {}
    for run in queued:
        counts[run.profile] = counts.get(run.profile, 0) + 1
    ordered = sorted(counts.items(), key=lambda item: _size(item[0]))
    return tuple(Load(profile, n, n * _units(profile)[0]) for profile, n in ordered)


def running_by_priority(placed: Iterable[PlacedRun]) -> tuple[Load, ...]:
    """Admitted runs and their compute slices per priority, every priority, highest first."""
    runs = dict.fromkeys(PRIORITIES, 0)
    slices = dict.fromkeys(PRIORITIES, 0)
    for run in placed:
        if not run.freeing:
            runs[run.priority] += 1
            slices[run.priority] += _units(run.profile)[0]
    return tuple(Load(p.value, runs[p], slices[p]) for p in PRIORITIES)


def build_view(
    gpus: Sequence[Gpu], placed: Sequence[PlacedRun], queued: Sequence[QueuedRun]
) -> ClusterView:
    """The capacity view of GPUs (in the order given), placed runs and the queue.

    A placed run whose slot names no listed GPU (a cordoned or vanished node) still counts in
    `running_by_priority`, not on any GPU.
    """
    by_slot: dict[tuple[str, int], list[PlacedRun]] = {}
    for run in placed:
        if run.slot is not None:
            by_slot.setdefault(run.slot, []).append(run)
    nodes: dict[str, list[GpuView]] = {}
    for gpu in gpus:
        nodes.setdefault(gpu.node, []).append(gpu_view(gpu, by_slot.get((gpu.node, gpu.index), ())))
    views = tuple(
        NodeView(name, tuple(sorted(g, key=lambda v: v.index))) for name, g in nodes.items()
    )
    every = [g for node in views for g in node.gpus]
    totals = Totals(
        gpus=len(every),
        compute=Slices(sum(g.compute.total for g in every), sum(g.compute.used for g in every)),
        memory=Slices(sum(g.memory.total for g in every), sum(g.memory.used for g in every)),
    )
    return ClusterView(views, totals, queued_demand(queued), running_by_priority(placed))


def stopping_run_ids(pods: Iterable[Mapping[str, Any]]) -> set[str]:
    """Runs whose pod still exists and has not ended (it may hold a slice)."""
    ids = set()
    for pod in pods:
        run_id = ((pod.get("metadata") or {}).get("labels") or {}).get(RUN_ID)
        if run_id and (pod.get("status") or {}).get("phase") not in FINISHED_PHASES:
            ids.add(str(run_id))
    return ids


# -- reading --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClusterState:
    """A view and the stored runs its partitions name (for their owners and the `Run` type)."""

    view: ClusterView
    runs: Mapping[str, Run]


async def read_cluster(platform: Platform) -> ClusterState:
    """Read nodes, pods and unfinished runs, and build the view (three small queries)."""
    prefix = platform.settings.gpu_resource_prefix
    gpus = inventory(platform.nodes.cache.values() if platform.nodes else (), prefix)
    pods = platform.tracker.pods.cache.values() if platform.tracker else ()
    stopping = [UUID(i) for i in stopping_run_ids(pods) if _is_uuid(i)]
    unfinished = list(UNFINISHED)
    holding = await Run.filter(
        Q(status__in=unfinished, admitted_at__not_isnull=True) | Q(id__in=stopping),
        gpu_slot__not_isnull=True,
    ).select_related("job")
    queued = await Run.filter(status__in=unfinished, admitted_at__isnull=True).values_list(
        "priority", "job__gpu"
    )
    placed = []
    for run in holding:
        admitted = run.status in UNFINISHED and run.admitted_at is not None
        placed.append(
            PlacedRun(
                run_id=str(run.id),
                profile=run.job.gpu,
                priority=run.priority,
                slot=parse_slot(run.gpu_slot),
                freeing=not admitted,
            )
        )
    view = build_view(
        gpus, placed, [QueuedRun(profile=gpu, priority=Priority(p)) for p, gpu in queued]
    )
    return ClusterState(view, {str(run.id): run for run in holding})


def _is_uuid(text: str) -> bool:
    try:
        UUID(text)
    except ValueError:
        return False
    return True


class _Listener:
    """One subscriber's slot: only the newest state waits (a slow client skips old views)."""

    def __init__(self) -> None:
        self.state: ClusterState | None = None
        self.ready = asyncio.Event()

    def offer(self, state: ClusterState) -> None:
        self.state = state
        self.ready.set()

    async def next(self) -> ClusterState:
        await self.ready.wait()
        self.ready.clear()
        assert self.state is not None
        return self.state


class CapacityFeed:
    """One reader of the cluster per hub, however many `clusterChanged` subscribers there are.

    While anyone listens, a task re-reads the view when a run changed (at most every `min_gap`
    seconds, however busy the runs are) and every `poll` seconds (nodes and pods publish
    nothing on the hub), and hands each new view to every listener: reads grow with changes,
    not with subscribers. It stops with the last listener and keeps no state meanwhile.
    """

    def __init__(self, *, min_gap: float = 0.5, poll: float = 5.0) -> None:
        self.min_gap, self.poll = min_gap, poll
        self.reads = 0
        self._listeners: set[_Listener] = set()
        self._latest: ClusterState | None = None
        self._task: asyncio.Task[None] | None = None

    async def states(
        self, hub: Hub[Run], read: Callable[[], Awaitable[ClusterState]]
    ) -> AsyncGenerator[ClusterState, None]:
        """The current state, then each one whose view differs; ends only when closed."""
        listener = _Listener()
        self._listeners.add(listener)
        if self._latest is not None:
            listener.offer(self._latest)
        if self._task is None:
            self._task = asyncio.create_task(self._run(hub, read), name="capacity-feed")
        try:
            while True:
                yield await listener.next()
        finally:
            self._listeners.discard(listener)
            if not self._listeners and self._task is not None:
                task, self._task, self._latest = self._task, None, None
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _run(self, hub: Hub[Run], read: Callable[[], Awaitable[ClusterState]]) -> None:
        loop = asyncio.get_running_loop()
        # Subscribe first, then read: a change between the two is never missed.
        with hub.subscribe(ALL_RUNS_TOPIC) as feed:
            while True:
                read_at = loop.time()
                with contextlib.suppress(Lagged):
                    feed.drain()  # what came so far is in the state read now
                try:
                    state = await read()
                    self.reads += 1
                except Exception:
                    log.exception("reading the cluster's capacity failed; retrying")
                else:
                    if self._latest is None or state.view != self._latest.view:
                        self._latest = state
                        for listener in self._listeners:
                            listener.offer(state)
                with contextlib.suppress(Lagged):
                    await feed.next_batch(timeout=self.poll)
                await asyncio.sleep(max(0.0, read_at + self.min_gap - loop.time()))


_feeds: weakref.WeakKeyDictionary[Hub[Run], CapacityFeed] = weakref.WeakKeyDictionary()


def feed_of(hub: Hub[Run]) -> CapacityFeed:
    """The process's capacity feed for the platform whose hub this is."""
    feed = _feeds.get(hub)
    if feed is None:
        feed = _feeds[hub] = CapacityFeed()
    return feed
