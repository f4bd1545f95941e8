"""The admission queue's rules: which suspended runs start now, where, and whom to preempt.

``plan(snapshot, policy)`` is pure: the loop on the leader builds a ``Snapshot`` (GPUs with what
other workloads hold and what is being freed, queued and admitted runs, recent usage, quotas),
asks for a ``Plan`` and carries it out (un-suspend the admitted Jobs pinned to their GPU's node,
stop the victims, write every waiting run's reason and position).

Order
    Priority first (EXTRA_HIGH, HIGH, MEDIUM, LOW). Within a priority, fair share between
    owners, dominant-resource style, in a common unit::

        share(o) = max(compute(o) / C, memory(o) / M) + recent_weight * usage(o) / C

    where ``compute(o)``/``memory(o)`` are the compute and memory slices owner ``o`` holds (its
    admitted runs), ``C``/``M`` the cluster's compute and memory slices (7 and 8 per GPU), and
    ``usage(o)`` its recent, already decayed, compute slice-seconds: ``usage / C`` is seconds of
    the whole cluster, so with the default ``recent_weight`` of 1/3600 an hour of the whole
    cluster weighs as much as holding all of it now. The owner with the lowest share goes next,
    then the earliest submission. Each run put in the order charges its slices to its owner
    (whether or not it can start now), so owners alternate DRF-style all the way down the queue
    and positions are stable from pass to pass. Owners sit in a heap per priority: a pass is
    O(n log owners).

Admission
    In that order a run starts when its owner's quota allows it (admitted compute slices plus
    its own within ``max_slices``; HIGH and EXTRA_HIGH need high-priority slice-seconds left)
    and some GPU that allows its profile can still cut it next to what is there (other
    workloads, instances being freed, admitted runs, and admitted-but-unbound runs, which are
    given the first GPU where they fit before anything else). It goes to the first such GPU in
    configuration order (bin packing keeps whole GPUs free for big profiles), preferring GPUs
    with nothing being freed on them (those slices are usually promised to a preemptor).

Backfill
    A run that does not fit does not stop the pass: later, smaller runs may start in the free
    slices, but never in slices promised to a blocked run ahead of them. The first blocked run
    of each profile is promised its best GPU (one promise per GPU): the one where the fewest
    admitted runs, ending earliest (``deadline``, else the oldest), must end for its profile to
    be cut. A later run may start on that GPU only if the promised profile could still be cut
    there once those runs end. So a big run is never starved by a stream of small ones, and
    small ones still use what the big one cannot. Later runs of a profile whose first run is
    blocked are not considered for placement (they could not overtake it): ``QUEUED``.

Preemption
    A blocked run whose quota allows it first looks for slices being freed (instances of pods
    being stopped) that would let it be cut: if there are, it waits for them, they are
    reserved for it, and nothing more is preempted. Otherwise, with ``policy.preemption``, it
    preempts the cheapest set of strictly lower-priority runs admitted at least
    ``min_runtime_seconds`` ago, all on one GPU, whose removal lets its profile be cut there.
    Cost, compared in this order: whether any victim's owner is within its quota (a set of
    over-quota owners' runs only goes first), the highest victim priority, runtime lost (sum
    of time since admission, so the most recently admitted go first), number of victims,
    compute slices, GPUs without a promise first, configuration order. The preemptor starts in
    a later pass, once its victims' slices are freed; the freed slices are reserved for it
    meanwhile. Every blocked run may preempt (not only the first), so no higher-priority run
    waits on a preemptible one for more than a pass. Promises made for backfill do not stop a
    preemption: they guard free slices against lower-ordered runs, not against priority.
"""

from __future__ import annotations

import enum
import heapq
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from app.domain.mig import COMPUTE_SLICES, MEMORY_SLICES, SIZES, fits_counts, profile_units
from app.domain.priority import PRIORITY_VALUES, Priority


class PendingReason(enum.Enum):
    """Why a queued run has not started."""

    QUEUED = "QUEUED"
    WAITING_FOR_CAPACITY = "WAITING_FOR_CAPACITY"
    OVER_QUOTA = "OVER_QUOTA"
    PREEMPTED = "PREEMPTED"
    UNSCHEDULABLE = "UNSCHEDULABLE"
    WAITING_FOR_REPARTITION = "WAITING_FOR_REPARTITION"


@dataclass(frozen=True)
class Gpu:
    """One physical GPU: which profiles it may be cut into and what non-runs occupy on it.

    ``held``: instances of pods that are not admitted platform runs (other workloads).
    ``releasing``: instances of pods being stopped; free soon, never preempted.
    """

    node: str
    index: int
    model: str
    profiles: frozenset[str]
    held: tuple[str, ...] = ()
    releasing: tuple[str, ...] = ()


@dataclass(frozen=True)
class QueuedRun:
    """A run waiting for admission (its Kubernetes Job is suspended)."""

    id: str
    owner: str
    profile: str
    priority: Priority
    submitted_at: datetime
    preempted: bool = False


@dataclass(frozen=True)
class AdmittedRun:
    """A run already admitted; ``gpu`` is ``(node, index)`` once its pod is bound, else None."""

    id: str
    owner: str
    profile: str
    priority: Priority
    admitted_at: datetime
    gpu: tuple[str, int] | None
    deadline: datetime | None = None


@dataclass(frozen=True)
class Quota:
    """An owner's limits: concurrent compute slices, and budget for HIGH/EXTRA_HIGH runs."""

    max_slices: int | None = None
    high_priority_slice_seconds_left: float | None = None


@dataclass(frozen=True)
class Snapshot:
    """Everything one pass decides on. ``usage``: owner -> recent, decayed slice-seconds."""

    now: datetime
    gpus: Sequence[Gpu]
    queued: Sequence[QueuedRun]
    admitted: Sequence[AdmittedRun]
    usage: Mapping[str, float] = field(default_factory=dict)
    quotas: Mapping[str, Quota] = field(default_factory=dict)


@dataclass(frozen=True)
class Policy:
    """Tunables. ``recent_weight``: share per second of whole-cluster use (see the module)."""

    min_runtime_seconds: float = 60
    preemption: bool = True
    recent_weight: float = 1 / 3600


@dataclass(frozen=True)
class Admission:
    """Start ``run_id`` on GPU ``gpu_index`` of ``node``."""

    run_id: str
    node: str
    gpu_index: int


@dataclass(frozen=True)
class Preemption:
    """Stop ``victim_id`` (it goes back to the queue) to make room for ``for_run_id``."""

    victim_id: str
    for_run_id: str


@dataclass(frozen=True)
class Waiting:
    """Why a queued run waits, and its 1-based place in the whole queue and its owner's."""

    reason: PendingReason
    message: str
    queue_position: int
    owner_queue_position: int


@dataclass(frozen=True)
class Plan:
    """What one pass decided; every queued run is either in ``admit`` or in ``waiting``."""

    admit: list[Admission]
    preempt: list[Preemption]
    waiting: dict[str, Waiting]


# --- internals ----------------------------------------------------------------------------------

_HIGH = PRIORITY_VALUES[Priority.HIGH]
_NSIZES = len(SIZES)
_UNITS: dict[str, tuple[int, int, int]] = {}  # profile -> (size axis, compute, memory)


def _units(profile: str) -> tuple[int, int, int]:
    units = _UNITS.get(profile)
    if units is None:
        compute, memory = profile_units(profile)
        units = _UNITS[profile] = (SIZES.index(compute), compute, memory)
    return units


def _fits_with(counts: list[int], axis: int) -> bool:
    counts[axis] += 1
    ok = fits_counts(tuple(counts))
    counts[axis] -= 1
    return ok


class _Slot:
    """An admitted run's instance on a GPU during a pass."""

    __slots__ = (
        "admitted",
        "axis",
        "compute",
        "deadline",
        "fresh",
        "id",
        "later",
        "owner",
        "rank",
        "taken",
    )

    def __init__(self, run: AdmittedRun | QueuedRun, admitted: datetime, fresh: bool) -> None:
        self.id = run.id
        self.owner = run.owner
        self.rank = PRIORITY_VALUES[run.priority]
        self.axis, self.compute, _ = _units(run.profile)
        self.admitted = admitted.timestamp()
        deadline = run.deadline if isinstance(run, AdmittedRun) else None
        self.deadline = deadline.timestamp() if deadline is not None else math.inf
        self.fresh = fresh  # admitted in this pass: never a victim
        self.later = False  # assumed gone by a backfill promise
        self.taken = False  # chosen as a victim in this pass


class _GpuState:
    """A GPU during a pass, as three instance-count vectors over the compute sizes.

    ``now``: everything on it (also what is being freed). ``soon``: once what is being freed
    is gone, plus reservations for runs waiting on that. ``future``: ``soon`` once the runs a
    backfill promise waits for have ended, plus the promised profile.
    """

    __slots__ = ("draining", "future", "gpu", "now", "order", "promised", "runs", "soon", "version")

    def __init__(self, gpu: Gpu, order: int) -> None:
        self.gpu = gpu
        self.order = order
        self.now = [0] * _NSIZES
        self.soon = [0] * _NSIZES
        self.future = [0] * _NSIZES
        self.runs: list[_Slot] = []
        self.draining = bool(gpu.releasing)
        self.promised = False
        self.version = 0  # bumped on every change, for the pass's per-GPU caches
        for name in gpu.held:
            axis = _units(name)[0]
            self.now[axis] += 1
            self.soon[axis] += 1
            self.future[axis] += 1
        for name in gpu.releasing:
            self.now[_units(name)[0]] += 1

    @property
    def label(self) -> str:
        return f"{self.gpu.node} GPU {self.gpu.index}"

    def fits_now(self, axis: int) -> bool:
        return (
            _fits_with(self.now, axis)
            and _fits_with(self.soon, axis)
            and (not self.promised or _fits_with(self.future, axis))
        )

    def add(self, slot: _Slot) -> None:
        self.version += 1
        self.runs.append(slot)
        for vector in (self.now, self.soon, self.future):
            vector[slot.axis] += 1

    def reserve_soon(self, axis: int) -> None:
        self.version += 1
        self.soon[axis] += 1
        self.future[axis] += 1


_Cost = tuple[float, float, float, float, float, float, float]
_Option = tuple[_Cost, _GpuState, list[_Slot]]


def _minimal_sets(counts: list[int], axis: int, pool: list[_Slot]) -> list[tuple[_Slot, ...]]:
    """Every minimal set of ``pool`` whose removal from ``counts`` lets size ``axis`` be cut.

    A superset of a working set also works and costs at least as much, so only minimal sets
    matter. They are grown level by level from sets that do not work yet (every subset of a
    minimal set fails), which keeps the search to a handful of checks when single victims do.
    """
    found: list[tuple[_Slot, ...]] = []
    masks: list[int] = []
    frontier: list[tuple[int, ...]] = [()]
    while frontier:
        grown: list[tuple[int, ...]] = []
        for base in frontier:
            for j in range(base[-1] + 1 if base else 0, len(pool)):
                combo = (*base, j)
                mask = sum(1 << k for k in combo)
                if any(m & mask == m for m in masks):
                    continue
                trial = list(counts)
                for k in combo:
                    trial[pool[k].axis] -= 1
                if _fits_with(trial, axis):
                    masks.append(mask)
                    found.append(tuple(pool[k] for k in combo))
                else:
                    grown.append(combo)
        frontier = grown
    return found


def _ts(moment: datetime) -> float:
    return moment.timestamp()


def _runs(ids: Sequence[str]) -> str:
    shown = ", ".join(ids[:3]) + (f" and {len(ids) - 3} more" if len(ids) > 3 else "")
    return f"run {shown}" if len(ids) == 1 else f"runs {shown}"


def _ahead(count: int) -> str:
    return f"{count} run{'' if count == 1 else 's'} ahead of you"


def order_queue(snapshot: Snapshot, policy: Policy) -> list[QueuedRun]:
    """The queue in plan order: priority, then DRF share (charged as it goes), then submission."""
    cluster_compute = max(1, COMPUTE_SLICES * len(snapshot.gpus))
    cluster_memory = max(1, MEMORY_SLICES * len(snapshot.gpus))
    compute: dict[str, float] = {}
    memory: dict[str, float] = {}
    for held in snapshot.admitted:
        _, c, m = _units(held.profile)
        compute[held.owner] = compute.get(held.owner, 0) + c
        memory[held.owner] = memory.get(held.owner, 0) + m
    recent = {
        owner: policy.recent_weight * used / cluster_compute
        for owner, used in snapshot.usage.items()
    }

    def share(owner: str) -> float:
        return max(
            compute.get(owner, 0) / cluster_compute, memory.get(owner, 0) / cluster_memory
        ) + recent.get(owner, 0.0)

    levels: dict[int, dict[str, list[QueuedRun]]] = {}
    for run in snapshot.queued:
        levels.setdefault(PRIORITY_VALUES[run.priority], {}).setdefault(run.owner, []).append(run)
    ordered: list[QueuedRun] = []
    for rank in sorted(levels, reverse=True):
        per_owner = levels[rank]
        heap: list[tuple[float, datetime, str, str, int]] = []
        for owner, runs in per_owner.items():
            runs.sort(key=lambda r: (r.submitted_at, r.id))
            heap.append((share(owner), runs[0].submitted_at, runs[0].id, owner, 0))
        heapq.heapify(heap)
        while heap:
            _, _, _, owner, i = heapq.heappop(heap)
            runs = per_owner[owner]
            run = runs[i]
            ordered.append(run)
            _, c, m = _units(run.profile)
            compute[owner] = compute.get(owner, 0) + c
            memory[owner] = memory.get(owner, 0) + m
            if i + 1 < len(runs):
                head = runs[i + 1]
                heapq.heappush(heap, (share(owner), head.submitted_at, head.id, owner, i + 1))
    return ordered


def plan(snapshot: Snapshot, policy: Policy) -> Plan:
    """Decide one pass: admissions with their GPU, preemptions, and why every other run waits."""
    return _Pass(snapshot, policy).run()


class _Pass:
    """The mutable state of one ``plan`` call."""

    def __init__(self, snapshot: Snapshot, policy: Policy) -> None:
        self.snapshot = snapshot
        self.policy = policy
        self.now_ts = _ts(snapshot.now)
        self.cutoff = self.now_ts - policy.min_runtime_seconds  # admitted before: preemptible
        states = [_GpuState(gpu, i) for i, gpu in enumerate(snapshot.gpus)]
        # Search order: GPUs with nothing being freed first, configuration order within.
        self.gpus = sorted(states, key=lambda g: (g.draining, g.order))
        self.by_key = {(g.gpu.node, g.gpu.index): g for g in states}
        self.owner_compute: dict[str, int] = {}
        self.over_quota: set[str] = set()
        self.candidates: dict[str, list[_GpuState]] = {}
        self.pointer: dict[str, int] = {}
        self.blocker: dict[str, str] = {}  # profile -> first blocked run of it
        self.soon_failed: dict[str, int] = {}  # profile -> preemption count when it last failed
        self.preemptions = 0
        self.no_victims: set[tuple[str, int]] = set()
        self.options: dict[tuple[int, int, int], tuple[int, _Option | None]] = {}
        self.eligible: dict[int, int] = {}  # priority rank -> victims available
        self.admit: list[Admission] = []
        self.preempt: list[Preemption] = []
        self.waiting: dict[str, Waiting] = {}
        self._place_admitted()

    # -- set-up

    def _place_admitted(self) -> None:
        unbound: list[AdmittedRun] = []
        for run in self.snapshot.admitted:
            c = _units(run.profile)[1]
            self.owner_compute[run.owner] = self.owner_compute.get(run.owner, 0) + c
            state = self.by_key.get(run.gpu) if run.gpu is not None else None
            if state is not None:
                self._hold(state, run)
            elif run.gpu is None:
                unbound.append(run)
        for run in sorted(unbound, key=lambda r: (r.admitted_at, r.id)):
            axis = _units(run.profile)[0]
            for state in self.gpus:
                if run.profile in state.gpu.profiles and state.fits_now(axis):
                    self._hold(state, run)
                    break
        for owner, held in self.owner_compute.items():
            quota = self.snapshot.quotas.get(owner)
            if quota is not None and quota.max_slices is not None and held > quota.max_slices:
                self.over_quota.add(owner)

    def _hold(self, state: _GpuState, run: AdmittedRun) -> None:
        slot = _Slot(run, run.admitted_at, fresh=False)
        state.add(slot)
        if self._old_enough(slot):
            self.eligible[slot.rank] = self.eligible.get(slot.rank, 0) + 1

    def _old_enough(self, slot: _Slot) -> bool:
        return not slot.fresh and not slot.taken and slot.admitted <= self.cutoff

    def _gpus_for(self, profile: str) -> list[_GpuState]:
        found = self.candidates.get(profile)
        if found is None:
            found = self.candidates[profile] = [g for g in self.gpus if profile in g.gpu.profiles]
            self.pointer[profile] = 0
        return found

    # -- the pass

    def run(self) -> Plan:
        position = 0
        owner_positions: dict[str, int] = {}
        for run in order_queue(self.snapshot, self.policy):
            candidates = self._gpus_for(run.profile)
            if not candidates:
                reason, message = PendingReason.UNSCHEDULABLE, self._unschedulable(run)
            else:
                blocked = self._quota_block(run)
                if blocked is not None:
                    reason, message = PendingReason.OVER_QUOTA, blocked
                else:
                    placed = self._place(run, candidates)
                    if placed is not None:
                        self.admit.append(Admission(run.id, placed.gpu.node, placed.gpu.index))
                        continue
                    reason, message = self._blocked(run, candidates, position)
            position += 1
            owner_position = owner_positions.get(run.owner, 0) + 1
            owner_positions[run.owner] = owner_position
            if run.preempted and reason in (
                PendingReason.WAITING_FOR_CAPACITY,
                PendingReason.QUEUED,
            ):
                reason = PendingReason.PREEMPTED
                message = f"preempted by a higher-priority run and requeued; {message}"
            self.waiting[run.id] = Waiting(reason, message, position, owner_position)
        return Plan(self.admit, self.preempt, self.waiting)

    def _unschedulable(self, run: QueuedRun) -> str:
        existing = sorted({p for g in self.snapshot.gpus for p in g.profiles}, key=_units)
        listed = ", ".join(existing) if existing else "none"
        return f"no GPU in the cluster allows {run.profile}; profiles that exist: {listed}"

    def _quota_block(self, run: QueuedRun) -> str | None:
        quota = self.snapshot.quotas.get(run.owner)
        if quota is None:
            return None
        compute = _units(run.profile)[1]
        held = self.owner_compute.get(run.owner, 0)
        if quota.max_slices is not None and held + compute > quota.max_slices:
            return (
                f"quota: {run.owner} holds {held} of its {quota.max_slices} concurrent compute "
                f"slices and {run.profile} needs {compute} more"
            )
        left = quota.high_priority_slice_seconds_left
        if PRIORITY_VALUES[run.priority] >= _HIGH and left is not None and left <= 0:
            return (
                f"quota: {run.owner} has no high-priority slice-seconds left ({left:g}) "
                f"for {run.priority.value} runs"
            )
        return None

    def _place(self, run: QueuedRun, candidates: list[_GpuState]) -> _GpuState | None:
        """First GPU (from this profile's pointer on) where the run fits now; advance past misses.

        Within a pass GPUs only fill up, so a GPU that could not take a profile never can.
        """
        axis = _units(run.profile)[0]
        i = self.pointer[run.profile]
        while i < len(candidates):
            state = candidates[i]
            if state.fits_now(axis):
                self.pointer[run.profile] = i
                slot = _Slot(run, self.snapshot.now, fresh=True)
                state.add(slot)
                self.owner_compute[run.owner] = self.owner_compute.get(run.owner, 0) + slot.compute
                return state
            i += 1
        self.pointer[run.profile] = i
        return None

    def _blocked(
        self, run: QueuedRun, candidates: list[_GpuState], ahead: int
    ) -> tuple[PendingReason, str]:
        axis = _units(run.profile)[0]
        first = run.profile not in self.blocker
        if first:
            self.blocker[run.profile] = run.id

        draining = self._wait_for_freed(run.profile, axis, candidates)
        if draining is not None:
            return PendingReason.WAITING_FOR_CAPACITY, (
                f"{_ahead(ahead)}; slices are being freed for {run.profile} on {draining.label}"
            )
        if self.policy.preemption:
            preempted = self._preempt(run, axis, candidates)
            if preempted is not None:
                state, victims = preempted
                return PendingReason.WAITING_FOR_CAPACITY, (
                    f"{_ahead(ahead)}; preempting {_runs(victims)} on {state.label} to make "
                    f"room for {run.profile}; starts once their slices are freed"
                )
        if not first:
            return PendingReason.QUEUED, (
                f"{_ahead(ahead)}; queued behind run {self.blocker[run.profile]}, which waits "
                f"for {run.profile} capacity"
            )
        return PendingReason.WAITING_FOR_CAPACITY, self._promise(run.profile, axis, ahead)

    def _wait_for_freed(
        self, profile: str, axis: int, candidates: list[_GpuState]
    ) -> _GpuState | None:
        """A GPU where the profile fits once what is being freed is gone; reserve it there."""
        if self.soon_failed.get(profile) == self.preemptions:
            return None
        for state in candidates:
            if state.draining and _fits_with(state.soon, axis):
                state.reserve_soon(axis)
                return state
        self.soon_failed[profile] = self.preemptions
        return None

    def _preempt(
        self, run: QueuedRun, axis: int, candidates: list[_GpuState]
    ) -> tuple[_GpuState, list[str]] | None:
        rank = PRIORITY_VALUES[run.priority]
        if (run.profile, rank) in self.no_victims or not any(
            count > 0 for r, count in self.eligible.items() if r < rank
        ):
            return None
        options: list[_Option] = []
        for state in candidates:
            key = (state.order, rank, axis)
            cached = self.options.get(key)
            if cached is None or cached[0] != state.version:
                cached = self.options[key] = (state.version, self._option(state, rank, axis))
            if cached[1] is not None:
                options.append(cached[1])
        if not options:
            self.no_victims.add((run.profile, rank))
            return None
        options.sort(key=lambda option: option[0])
        best: tuple[_Cost, _GpuState, tuple[_Slot, ...]] | None = None
        for bound, state, pool in options:
            if best is not None and bound >= best[0]:
                break
            for victims in _minimal_sets(state.soon, axis, pool):
                cost = (
                    float(any(v.owner not in self.over_quota for v in victims)),
                    float(max(v.rank for v in victims)),
                    sum(self.now_ts - v.admitted for v in victims),
                    float(len(victims)),
                    float(sum(v.compute for v in victims)),
                    float(state.promised),
                    float(state.order),
                )
                if best is None or cost < best[0]:
                    best = (cost, state, victims)
        assert best is not None  # every option's whole pool is a feasible set
        _, state, victims = best
        for victim in victims:
            state.soon[victim.axis] -= 1
            if not victim.later:
                state.future[victim.axis] -= 1
            victim.later = False
            victim.taken = True
            self.eligible[victim.rank] -= 1
            self.preempt.append(Preemption(victim.id, run.id))
        state.reserve_soon(axis)
        state.draining = True
        self.preemptions += 1
        return state, [v.id for v in victims]

    def _option(self, state: _GpuState, rank: int, axis: int) -> _Option | None:
        """The victims ``state`` offers a run of ``rank`` and size ``axis``, with a cost bound."""
        pool = [s for s in state.runs if s.rank < rank and self._old_enough(s)]
        if not pool:
            return None
        without = list(state.soon)
        for slot in pool:
            without[slot.axis] -= 1
        if not _fits_with(without, axis):
            return None
        # Componentwise minimum of every set's cost: a lexicographic lower bound.
        bound = (
            float(min(slot.owner not in self.over_quota for slot in pool)),
            float(min(slot.rank for slot in pool)),
            self.now_ts - max(slot.admitted for slot in pool),
            1.0,
            float(min(slot.compute for slot in pool)),
            float(state.promised),
            float(state.order),
        )
        return bound, state, pool

    def _promise(self, profile: str, axis: int, ahead: int) -> str:
        """Promise the first blocked run of a profile its best GPU; say what it waits for."""
        best: tuple[tuple[float, int, float, int], _GpuState, list[_Slot]] | None = None
        any_free = False
        for state in self.candidates[profile]:
            if state.promised:
                continue
            any_free = True
            counts = list(state.future)
            gone: list[_Slot] = []
            if not _fits_with(counts, axis):
                ending = sorted(
                    (s for s in state.runs if not s.later and not s.taken),
                    key=lambda s: (s.deadline, s.admitted),
                )
                for slot in ending:
                    counts[slot.axis] -= 1
                    gone.append(slot)
                    if _fits_with(counts, axis):
                        break
                else:
                    continue
            ready = max((s.deadline for s in gone), default=self.now_ts)
            youngest = max((s.admitted for s in gone), default=0.0)
            key = (ready, len(gone), youngest, state.order)
            if best is None or key < best[0]:
                best = (key, state, gone)
        if best is None:
            why = (
                f"no GPU has room for {profile} next to other workloads"
                if any_free
                else f"every GPU that allows {profile} is promised to a run ahead"
            )
            return f"{_ahead(ahead)}; {why}"
        _, state, gone = best
        state.promised = True
        state.version += 1
        for slot in gone:
            slot.later = True
            state.future[slot.axis] -= 1
        state.future[axis] += 1
        if not gone:
            return f"{_ahead(ahead)}; {profile} is promised on {state.label} once runs ahead start"
        return f"{_ahead(ahead)}; {profile} frees up when run {gone[-1].id} ends"
