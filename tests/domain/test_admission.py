"""The admission queue's pure rules: order, placement, quotas, reasons, backfill, preemption.

Tables for each rule, then a property test that runs many passes of a small simulated cluster
(submissions arriving over time, plans applied, runs finishing) and checks the invariants.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.domain import mig
from app.domain.admission import (
    AdmittedRun,
    Gpu,
    PendingReason,
    Plan,
    Policy,
    QueuedRun,
    Quota,
    Snapshot,
    order_queue,
    plan,
)
from app.domain.priority import PRIORITY_VALUES, Priority

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
A100 = frozenset(mig.model_profiles("A100-80GB"))
LOW, MEDIUM, HIGH, XHIGH = Priority.LOW, Priority.MEDIUM, Priority.HIGH, Priority.EXTRA_HIGH


def gpu(
    index: int = 0,
    *,
    node: str = "n1",
    held: tuple[str, ...] = (),
    releasing: tuple[str, ...] = (),
    profiles: frozenset[str] = A100,
) -> Gpu:
    return Gpu(node, index, "A100-80GB", profiles, held, releasing)


def q(
    run_id: str,
    profile: str = "1g.10gb",
    *,
    owner: str = "user:a",
    priority: Priority = MEDIUM,
    at: float = 0,
    preempted: bool = False,
) -> QueuedRun:
    return QueuedRun(run_id, owner, profile, priority, T0 + timedelta(seconds=at), preempted)


def a(
    run_id: str,
    profile: str = "1g.10gb",
    *,
    owner: str = "user:z",
    priority: Priority = LOW,
    age: float = 3600,
    on: int | None = 0,
    deadline_in: float | None = None,
) -> AdmittedRun:
    return AdmittedRun(
        run_id,
        owner,
        profile,
        priority,
        T0 - timedelta(seconds=age),
        ("n1", on) if on is not None else None,
        T0 + timedelta(seconds=deadline_in) if deadline_in is not None else None,
    )


def run_plan(
    gpus: list[Gpu],
    queued: list[QueuedRun],
    admitted: list[AdmittedRun] = (),  # type: ignore[assignment]
    *,
    usage: dict[str, float] | None = None,
    quotas: dict[str, Quota] | None = None,
    policy: Policy | None = None,
) -> Plan:
    snapshot = Snapshot(T0, gpus, queued, list(admitted), usage or {}, quotas or {})
    result = plan(snapshot, policy or Policy())
    assert {x.run_id for x in result.admit} | set(result.waiting) == {r.id for r in queued}
    assert not {x.run_id for x in result.admit} & set(result.waiting)
    return result


def placements(result: Plan) -> dict[str, int]:
    return {x.run_id: x.gpu_index for x in result.admit}


# --- order ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("queued", "admitted", "usage", "expected"),
    [
        pytest.param(
            [q("l", priority=LOW), q("m", at=5), q("x", priority=XHIGH, at=9),
             q("h", priority=HIGH)],
            [],
            {},
            ["x", "h", "m", "l"],
            id="priority-first",
        ),
        pytest.param(
            [q("a1", at=0), q("a2", at=1), q("a3", at=2), q("b1", owner="u:b", at=10),
             q("b2", owner="u:b", at=11)],
            [],
            {},
            ["a1", "b1", "a2", "b2", "a3"],
            id="owners-alternate",
        ),
        pytest.param(
            [q("a1", at=0), q("b1", owner="u:b", at=10)],
            [a("held", "3g.40gb", owner="user:a")],
            {},
            ["b1", "a1"],
            id="what-an-owner-holds-counts",
        ),
        pytest.param(
            [q("a1", at=0), q("a2", at=1), q("a3", at=2), q("b1", owner="u:b", at=10),
             q("b2", owner="u:b", at=11)],
            [],
            {"user:a": 7 * 3600.0},  # one hour of the (one GPU) cluster
            ["b1", "b2", "a1", "a2", "a3"],
            id="recent-usage-counts",
        ),
        pytest.param(
            # a holds 3g.40gb: 3/7 compute but 4/8 memory; b holds 1g + 2g: 3/7 and 3/8
            [q("a1", at=0), q("b1", owner="u:b", at=10)],
            [a("x", "3g.40gb", owner="user:a"), a("y", owner="u:b"),
             a("z", "2g.20gb", owner="u:b")],
            {},
            ["b1", "a1"],
            id="dominant-resource-is-memory",
        ),
        pytest.param(
            [q("late", at=20), q("early", owner="u:b", at=10)],
            [],
            {},
            ["early", "late"],
            id="equal-share-then-submission",
        ),
        pytest.param(
            [q("b1", "7g.80gb", owner="u:b", at=0), q("b2", owner="u:b", at=1),
             q("a1", at=5), q("a2", at=6)],
            [],
            {},
            ["b1", "a1", "a2", "b2"],
            id="charged-by-slices-not-runs",
        ),
    ],
)  # fmt: skip
def test_order(
    queued: list[QueuedRun],
    admitted: list[AdmittedRun],
    usage: dict[str, float],
    expected: list[str],
) -> None:
    snapshot = Snapshot(T0, [gpu()], queued, admitted, usage, {})
    assert [r.id for r in order_queue(snapshot, Policy())] == expected


def test_positions_cover_the_remaining_queue_in_plan_order() -> None:
    result = run_plan(
        [gpu(held=("4g.40gb", "2g.20gb"))],
        [q("a1", at=0), q("a2", "2g.20gb", at=1), q("b1", "2g.20gb", owner="u:b", at=2),
         q("a3", "2g.20gb", at=3), q("x", "7g.80gb", owner="u:c", priority=HIGH, at=4)],
    )  # fmt: skip
    assert placements(result) == {"a1": 0}
    positions = {k: (w.queue_position, w.owner_queue_position) for k, w in result.waiting.items()}
    # x (HIGH) first; a1 started and charged a's share, so b1 goes before a2.
    assert positions == {"x": (1, 1), "b1": (2, 1), "a2": (3, 1), "a3": (4, 2)}


# --- placement --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("gpus", "queued", "admitted", "expected"),
    [
        pytest.param([gpu(0, held=("7g.80gb",)), gpu(1)], [q("r", "3g.40gb")], [], {"r": 1},
                     id="first-gpu-where-it-fits"),
        pytest.param([gpu(0), gpu(1)], [q("r", "3g.40gb")], [a("x", "4g.40gb", on=0)], {"r": 0},
                     id="fills-a-gpu-before-the-next"),
        pytest.param([gpu(0), gpu(1)], [q("r", "4g.40gb")], [a("x", "4g.40gb", on=0)], {"r": 1},
                     id="next-gpu-when-it-does-not-fit"),
        pytest.param([gpu(0, held=("4g.40gb",)), gpu(1)], [q("r", "4g.40gb")], [], {"r": 1},
                     id="other-workloads-count"),
        pytest.param([gpu(0, releasing=("1g.10gb",)), gpu(1)], [q("r", "3g.40gb")], [], {"r": 1},
                     id="prefers-gpu-with-nothing-being-freed"),
        pytest.param([gpu(0, releasing=("1g.10gb",)), gpu(1, held=("7g.80gb",))],
                     [q("r", "3g.40gb")], [], {"r": 0},
                     id="next-to-releasing-when-nothing-else-fits"),
        pytest.param([gpu(0, profiles=frozenset({"1g.10gb"})), gpu(1)], [q("r", "3g.40gb")], [],
                     {"r": 1}, id="gpu-must-allow-the-profile"),
        pytest.param([gpu(0), gpu(1)], [q("big", "4g.40gb"), q("small", "3g.40gb", at=1)],
                     [a("u", "4g.40gb", on=None, age=5)], {"big": 1, "small": 0},
                     id="unbound-admitted-take-a-place-first"),
        pytest.param([gpu(0)], [q("r", "2g.20gb")], [a("x", "3g.40gb"), a("y", "3g.40gb")], {},
                     id="memory-slices-full"),
        pytest.param([gpu(0)], [q(f"r{i}", at=i) for i in range(8)], [],
                     {f"r{i}": 0 for i in range(7)}, id="seven-1g-on-one-gpu"),
    ],
)  # fmt: skip
def test_placement(
    gpus: list[Gpu], queued: list[QueuedRun], admitted: list[AdmittedRun], expected: dict[str, int]
) -> None:
    assert placements(run_plan(gpus, queued, admitted)) == expected


# --- quotas and reasons ------------------------------------------------------------------------


@dataclass
class Case:
    gpus: list[Gpu]
    queued: list[QueuedRun]
    admitted: list[AdmittedRun] = field(default_factory=list)
    quotas: dict[str, Quota] = field(default_factory=dict)
    admit: set[str] = field(default_factory=set)
    reasons: dict[str, tuple[PendingReason, str]] = field(default_factory=dict)
    policy: Policy = field(default_factory=Policy)


R = PendingReason
REASON_CASES: dict[str, Case] = {
    "unschedulable-names-existing-profiles": Case(
        [gpu(profiles=frozenset({"1g.10gb", "2g.20gb"}))],
        [q("r", "7g.80gb")],
        reasons={"r": (R.UNSCHEDULABLE, "profiles that exist: 1g.10gb, 2g.20gb")},
    ),
    "max-slices": Case(
        [gpu(0), gpu(1)],
        [q("r", "2g.20gb")],
        [a("x", "3g.40gb", owner="user:a", priority=MEDIUM)],
        quotas={"user:a": Quota(max_slices=4)},
        reasons={"r": (R.OVER_QUOTA, "holds 3 of its 4 concurrent compute slices")},
    ),
    "max-slices-counts-this-pass": Case(
        [gpu()],
        [q("r1", at=0), q("r2", at=1), q("r3", at=2)],
        quotas={"user:a": Quota(max_slices=2)},
        admit={"r1", "r2"},
        reasons={"r3": (R.OVER_QUOTA, "holds 2 of its 2")},
    ),
    "high-priority-budget-spent": Case(
        [gpu()],
        [q("h", priority=HIGH), q("x", priority=XHIGH), q("m", at=1)],
        quotas={"user:a": Quota(high_priority_slice_seconds_left=0)},
        admit={"m"},
        reasons={
            "h": (R.OVER_QUOTA, "no high-priority slice-seconds left (0) for HIGH runs"),
            "x": (R.OVER_QUOTA, "for EXTRA_HIGH runs"),
        },
    ),
    "high-priority-budget-left": Case(
        [gpu()],
        [q("h", priority=HIGH)],
        quotas={"user:a": Quota(high_priority_slice_seconds_left=10.0)},
        admit={"h"},
    ),
    "quota-of-someone-else-does-not-apply": Case(
        [gpu()],
        [q("r")],
        quotas={"user:b": Quota(max_slices=0)},
        admit={"r"},
    ),
    "capacity-names-earliest-deadline": Case(
        [gpu()],
        [q("r", "3g.40gb")],
        [
            a("late", "3g.40gb", priority=MEDIUM, deadline_in=600),
            a("soon", "3g.40gb", priority=MEDIUM, deadline_in=60, age=10),
        ],
        reasons={
            "r": (R.WAITING_FOR_CAPACITY, "0 runs ahead of you; 3g.40gb frees up when run soon"),
        },
    ),
    "capacity-names-oldest-without-deadlines": Case(
        [gpu()],
        [q("r", "3g.40gb")],
        [a("young", "3g.40gb", priority=MEDIUM, age=60), a("old", "3g.40gb", priority=MEDIUM)],
        reasons={"r": (R.WAITING_FOR_CAPACITY, "frees up when run old ends")},
    ),
    "capacity-counts-runs-ahead": Case(
        [gpu(0, held=("3g.40gb",))],
        [q("x", "7g.80gb", owner="u:x", priority=HIGH), q("y", "4g.40gb", owner="u:y", at=1),
         q("z", "4g.40gb", owner="u:z", at=2), q("r", "3g.40gb", at=3)],
        [a("m", "4g.40gb", owner="u:m", priority=MEDIUM)],
        reasons={
            "x": (R.WAITING_FOR_CAPACITY, "no GPU has room for 7g.80gb next to other workloads"),
            "y": (R.WAITING_FOR_CAPACITY, "1 run ahead of you; 4g.40gb frees up when run m ends"),
            "z": (R.QUEUED, "2 runs ahead of you; queued behind run y"),
            "r": (R.WAITING_FOR_CAPACITY, "3 runs ahead of you"),
        },
    ),
    "preempted-run-says-so": Case(
        [gpu()],
        [q("p", "7g.80gb", preempted=True)],
        [a("m", "1g.10gb", priority=MEDIUM)],
        reasons={"p": (R.PREEMPTED, "preempted by a higher-priority run and requeued; 0 runs")},
    ),
    "preempted-over-quota-stays-over-quota": Case(
        [gpu()],
        [q("p", preempted=True)],
        quotas={"user:a": Quota(max_slices=0)},
        reasons={"p": (R.OVER_QUOTA, "holds 0 of its 0")},
    ),
}  # fmt: skip


def check(case: Case) -> Plan:
    result = run_plan(case.gpus, case.queued, case.admitted, quotas=case.quotas, policy=case.policy)
    assert {x.run_id for x in result.admit} == case.admit
    for run_id, (reason, text) in case.reasons.items():
        waiting = result.waiting[run_id]
        assert waiting.reason is reason, waiting
        assert text in waiting.message, waiting.message
    return result


@pytest.mark.parametrize("name", REASON_CASES)
def test_reasons(name: str) -> None:
    check(REASON_CASES[name])


# --- backfill ----------------------------------------------------------------------------------

BACKFILL_CASES: dict[str, Case] = {
    "small-run-may-not-take-the-promised-slices": Case(
        # 4g + 1g now; the blocked 7g is promised this GPU once the 4g ends: the 1g stays out.
        [gpu()],
        [q("big", "7g.80gb", at=0), q("small", owner="u:b", at=1)],
        [a("m", "4g.40gb", priority=MEDIUM)],
        reasons={
            "big": (R.WAITING_FOR_CAPACITY, "7g.80gb frees up when run m ends"),
            "small": (R.WAITING_FOR_CAPACITY, "every GPU that allows 1g.10gb is promised"),
        },
    ),
    "small-run-backfills-elsewhere": Case(
        [gpu(0), gpu(1)],
        [q("big", "7g.80gb", at=0), q("small", owner="u:b", at=1)],
        [a("m0", "4g.40gb", priority=MEDIUM, on=0, deadline_in=900),
         a("m1", "4g.40gb", priority=MEDIUM, on=1, deadline_in=300)],
        admit={"small"},
        reasons={"big": (R.WAITING_FOR_CAPACITY, "frees up when run m1 ends")},
    ),
    "backfill-into-what-the-promise-leaves": Case(
        # 2g + 2g now; the 4g is promised once the older 2g ends (4g + 2g + one free 1g slot)
        [gpu()],
        [q("big", "4g.40gb", at=0), q("s1", owner="u:b", at=1), q("s2", owner="u:c", at=2)],
        [a("old", "2g.20gb", priority=MEDIUM), a("new", "2g.20gb", priority=MEDIUM, age=60)],
        admit={"s1"},
        reasons={
            "big": (R.WAITING_FOR_CAPACITY, "frees up when run old ends"),
            "s2": (R.WAITING_FOR_CAPACITY, "1g.10gb"),
        },
    ),
    "same-profile-does-not-overtake": Case(
        [gpu()],
        [q("first", "3g.40gb", at=0), q("second", "3g.40gb", owner="u:b", at=1)],
        [a("m", "4g.40gb", priority=MEDIUM), a("n", "2g.20gb", priority=MEDIUM)],
        reasons={"second": (R.QUEUED, "queued behind run first")},
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", BACKFILL_CASES)
def test_backfill(name: str) -> None:
    check(BACKFILL_CASES[name])


# --- preemption ---------------------------------------------------------------------------------


@dataclass
class PreemptCase:
    gpus: list[Gpu]
    queued: list[QueuedRun]
    admitted: list[AdmittedRun]
    victims: dict[str, str]  # victim -> preemptor
    quotas: dict[str, Quota] = field(default_factory=dict)
    policy: Policy = field(default_factory=Policy)
    message: dict[str, str] = field(default_factory=dict)


PREEMPT_CASES: dict[str, PreemptCase] = {
    "one-victim-most-recently-admitted": PreemptCase(
        [gpu()],
        [q("h", priority=HIGH)],
        [a(f"l{i}", age=600 + i) for i in range(7)],
        {"l0": "h"},
        message={"h": "0 runs ahead of you; preempting run l0 on n1 GPU 0 to make room"},
    ),
    "not-before-min-runtime": PreemptCase(
        [gpu()], [q("h", priority=HIGH)], [a(f"l{i}", age=30) for i in range(7)], {}
    ),
    "min-runtime-is-policy": PreemptCase(
        [gpu()], [q("h", priority=HIGH)], [a(f"l{i}", age=30 + i) for i in range(7)], {"l0": "h"},
        policy=Policy(min_runtime_seconds=10),
    ),
    "never-equal-priority": PreemptCase(
        [gpu()], [q("h", priority=HIGH)], [a(f"l{i}", priority=HIGH) for i in range(7)], {}
    ),
    "never-higher-priority": PreemptCase(
        [gpu()], [q("m")], [a(f"l{i}", priority=HIGH) for i in range(7)], {}
    ),
    "disabled-by-policy": PreemptCase(
        [gpu()], [q("h", priority=HIGH)], [a(f"l{i}") for i in range(7)], {},
        policy=Policy(preemption=False),
    ),
    "over-quota-owner-first": PreemptCase(
        [gpu()],
        [q("h", "2g.20gb", priority=HIGH)],
        [a("in", "2g.20gb", owner="u:in", age=100), a("over", "2g.20gb", owner="u:over", age=5000),
         a("x", "3g.40gb", priority=HIGH)],
        {"over": "h"},
        quotas={"u:over": Quota(max_slices=1)},
    ),
    "lowest-priority-first": PreemptCase(
        [gpu()],
        [q("h", "2g.20gb", priority=XHIGH)],
        [a("med", "2g.20gb", priority=MEDIUM, age=100), a("low", "2g.20gb", age=5000),
         a("x", "3g.40gb", priority=XHIGH)],
        {"low": "h"},
    ),
    "least-runtime-lost": PreemptCase(
        [gpu(0), gpu(1)],
        [q("h", "4g.40gb", priority=HIGH)],
        [a("big", "4g.40gb", age=500, on=0), a("x", "3g.40gb", priority=HIGH, on=0),
         a("s1", "2g.20gb", age=200, on=1), a("s2", "2g.20gb", age=200, on=1),
         a("y", "3g.40gb", priority=HIGH, on=1)],
        {"s1": "h", "s2": "h"},
    ),
    "fewest-victims-on-a-tie": PreemptCase(
        [gpu(0), gpu(1)],
        [q("h", "4g.40gb", priority=HIGH)],
        [a("s1", "2g.20gb", age=200, on=0), a("s2", "2g.20gb", age=200, on=0),
         a("x", "3g.40gb", priority=HIGH, on=0),
         a("big", "4g.40gb", age=400, on=1), a("y", "3g.40gb", priority=HIGH, on=1)],
        {"big": "h"},
    ),
    "all-victims-on-one-gpu": PreemptCase(
        [gpu(0), gpu(1)],
        [q("h", "7g.80gb", priority=HIGH)],
        [a("l0", "4g.40gb", on=0), a("h0", "3g.40gb", priority=HIGH, on=0),
         a("l1", "3g.40gb", on=1), a("h1", "4g.40gb", priority=HIGH, on=1)],
        {},
    ),
    "releasing-slices-mean-no-more-preemption": PreemptCase(
        [gpu(releasing=("4g.40gb",))],
        [q("h", "4g.40gb", priority=HIGH)],
        [a("l", "3g.40gb")],
        {},
        message={"h": "slices are being freed for 4g.40gb on n1 GPU 0"},
    ),
    "releasing-slices-reserved-for-the-first": PreemptCase(
        [gpu(releasing=("4g.40gb",))],
        [q("h1", "4g.40gb", priority=HIGH), q("h2", "4g.40gb", priority=HIGH, owner="u:b")],
        [a("l", "3g.40gb")],
        {},
        message={"h1": "slices are being freed", "h2": "queued behind run h1"},
    ),
    "every-blocked-run-may-preempt": PreemptCase(
        [gpu()],
        [q("h1", priority=HIGH), q("h2", priority=HIGH, owner="u:b", at=1)],
        [a(f"l{i}", age=600 + i) for i in range(7)],
        {"l0": "h1", "l1": "h2"},
        message={"h2": "preempting run l1"},
    ),
    "preempt-several-for-a-big-run": PreemptCase(
        [gpu()],
        [q("h", "7g.80gb", priority=HIGH)],
        [a("l0", "3g.40gb"), a("l1", "4g.40gb")],
        {"l0": "h", "l1": "h"},
        message={"h": "preempting runs "},
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", PREEMPT_CASES)
def test_preemption(name: str) -> None:
    case = PREEMPT_CASES[name]
    result = run_plan(case.gpus, case.queued, case.admitted, quotas=case.quotas, policy=case.policy)
    assert {p.victim_id: p.for_run_id for p in result.preempt} == case.victims
    preemptors = {p.for_run_id for p in result.preempt}
    assert not preemptors & {x.run_id for x in result.admit}  # they start in a later pass
    for run_id in preemptors:
        assert result.waiting[run_id].reason is R.WAITING_FOR_CAPACITY
    for run_id, text in case.message.items():
        assert text in result.waiting[run_id].message, result.waiting[run_id].message


def test_preemption_wins_over_a_backfill_promise() -> None:
    """A promise guards free slices against lower-ordered runs, not against preemption."""
    result = run_plan(
        [gpu()],
        [q("big", "7g.80gb", priority=HIGH), q("h", priority=HIGH, owner="u:b", at=1)],
        [a("m", "4g.40gb", priority=HIGH), a("l", "1g.10gb")],
    )
    assert [(p.victim_id, p.for_run_id) for p in result.preempt] == [("l", "h")]


def test_a_big_pass_decides_every_run() -> None:
    """10,000 queued runs of 100 owners on 128 GPUs, 448 preemptible: every run is decided
    (how fast is measured by bench/admission.py, never asserted)."""
    profiles = sorted(A100, key=mig.profile_units)
    gpus = [gpu(i % 8, node=f"n{i // 8}") for i in range(128)]
    queued = [
        q(f"q{k}", profiles[k % 5], owner=f"user:{k % 100}", priority=list(Priority)[k % 4], at=k)
        for k in range(10_000)
    ]
    admitted = [
        AdmittedRun(f"a{k}", f"user:{k % 100}", "1g.10gb", LOW, T0 - timedelta(hours=1),
                    (f"n{k // 8 % 16}", k % 8))
        for k in range(7 * 64)
    ]  # fmt: skip
    snapshot = Snapshot(T0, gpus, queued, admitted, {}, {})
    result = plan(snapshot, Policy())
    assert len(result.admit) + len(result.waiting) == 10_000
    assert sorted(w.queue_position for w in result.waiting.values()) == list(
        range(1, len(result.waiting) + 1)
    )


# --- property: many passes of a small simulated cluster ------------------------------------------

PASS_SECONDS = 30
MIN_RUNTIME = 60
CONFIGS: list[list[Gpu]] = [
    [gpu(0), gpu(1)],
    [gpu(0, held=("2g.20gb",)), gpu(1, profiles=frozenset({"1g.10gb", "2g.20gb", "3g.40gb"}))],
    [gpu(0), gpu(0, node="n2", held=("1g.10gb", "1g.10gb")), gpu(1, node="n2")],
]
SMALL_PROFILES = sorted(A100, key=mig.profile_units)


@dataclass
class Running:
    run: AdmittedRun
    left: int  # passes until it finishes
    duration: int


@dataclass
class Sim:
    gpus: list[Gpu]
    quotas: dict[str, Quota]
    queued: dict[str, QueuedRun] = field(default_factory=dict)
    durations: dict[str, int] = field(default_factory=dict)
    submitted: dict[str, datetime] = field(default_factory=dict)
    running: dict[str, Running] = field(default_factory=dict)
    releasing: dict[tuple[str, int], list[str]] = field(default_factory=dict)
    finished: set[str] = field(default_factory=set)

    def snapshot(self, now: datetime) -> Snapshot:
        gpus = [
            replace(g, releasing=tuple(self.releasing.get((g.node, g.index), ())))
            for g in self.gpus
        ]
        return Snapshot(
            now, gpus, list(self.queued.values()), [r.run for r in self.running.values()],
            {}, self.quotas,
        )  # fmt: skip


def instances_on(sim: Sim, key: tuple[str, int]) -> list[str]:
    base = next(g for g in sim.gpus if (g.node, g.index) == key)
    bound = [r.run.profile for r in sim.running.values() if r.run.gpu == key]
    return [*base.held, *sim.releasing.get(key, ()), *bound]


def check_quiet_pass_starves_nobody(sim: Sim, snapshot: Snapshot, result: Plan) -> None:
    """No preemption and nothing being freed: then no waiting run has a preemptible way in."""
    if result.preempt or any(g.releasing for g in snapshot.gpus):
        return
    cutoff = snapshot.now - timedelta(seconds=MIN_RUNTIME)
    for run_id, waiting in result.waiting.items():
        if waiting.reason not in (R.WAITING_FOR_CAPACITY, R.QUEUED, R.PREEMPTED):
            continue
        run = sim.queued[run_id]
        rank = PRIORITY_VALUES[run.priority]
        for g in sim.gpus:
            if run.profile not in g.profiles:
                continue
            key = (g.node, g.index)
            victims = [
                r.run for r in sim.running.values()
                if r.run.gpu == key and PRIORITY_VALUES[r.run.priority] < rank
                and r.run.admitted_at <= cutoff
            ]  # fmt: skip
            if not victims:
                continue
            ids = {v.id for v in victims}
            rest = [*g.held] + [
                r.run.profile for r in sim.running.values()
                if r.run.gpu == key and r.run.id not in ids
            ] + [
                sim.queued[x.run_id].profile for x in result.admit
                if (x.node, x.gpu_index) == key
            ]  # fmt: skip
            assert not mig.can_cut(rest, run.profile), (
                f"{run_id} ({run.priority.value}) waits although preempting {sorted(ids)} "
                f"on {key} would let {run.profile} in: {waiting}"
            )


def step(sim: Sim, now: datetime) -> Plan:
    """One pass: plan on the current state, check it, apply it, check the cluster."""
    # Runs that are done leave; slices freed by last pass's stopped pods are gone.
    for run_id in [k for k, r in sim.running.items() if r.left <= 0]:
        del sim.running[run_id]
        sim.finished.add(run_id)
    snapshot = sim.snapshot(now)
    sim.releasing = {}
    result = plan(snapshot, Policy(min_runtime_seconds=MIN_RUNTIME))

    # Every queued run is decided exactly once, with contiguous positions.
    admitted_ids = [x.run_id for x in result.admit]
    assert set(admitted_ids) | set(result.waiting) == set(sim.queued)
    assert not set(admitted_ids) & set(result.waiting)
    assert sorted(w.queue_position for w in result.waiting.values()) == list(
        range(1, len(result.waiting) + 1)
    )
    for run_id, waiting in result.waiting.items():
        if sim.queued[run_id].preempted and waiting.reason in (R.WAITING_FOR_CAPACITY, R.QUEUED):
            raise AssertionError(f"preempted run {run_id} waits as {waiting.reason}")
    check_quiet_pass_starves_nobody(sim, snapshot, result)

    # Preemptions: strictly lower priority, past the minimum runtime, each victim once.
    victims = [p.victim_id for p in result.preempt]
    assert len(victims) == len(set(victims))
    for p in result.preempt:
        victim = sim.running[p.victim_id].run
        preemptor = sim.queued[p.for_run_id]
        assert PRIORITY_VALUES[victim.priority] < PRIORITY_VALUES[preemptor.priority]
        assert (now - victim.admitted_at).total_seconds() >= MIN_RUNTIME
        assert p.for_run_id in result.waiting
    for p in result.preempt:
        gone = sim.running.pop(p.victim_id)
        assert gone.run.gpu is not None
        sim.releasing.setdefault(gone.run.gpu, []).append(gone.run.profile)
        sim.queued[p.victim_id] = QueuedRun(
            gone.run.id, gone.run.owner, gone.run.profile, gone.run.priority,
            sim.submitted[gone.run.id], preempted=True,
        )  # fmt: skip
    for x in result.admit:
        run = sim.queued.pop(x.run_id)
        duration = sim.durations[run.id]
        sim.running[run.id] = Running(
            AdmittedRun(run.id, run.owner, run.profile, run.priority, now, (x.node, x.gpu_index)),
            duration, duration,
        )  # fmt: skip
    for r in sim.running.values():
        r.left -= 1

    # No slice held twice; no owner over its concurrent slices.
    for g in sim.gpus:
        assert mig.fits(instances_on(sim, (g.node, g.index))), instances_on(sim, (g.node, g.index))
    held: dict[str, int] = {}
    for r in sim.running.values():
        held[r.run.owner] = held.get(r.run.owner, 0) + mig.profile_units(r.run.profile)[0]
    for owner, slices in held.items():
        limit = sim.quotas.get(owner, Quota()).max_slices
        assert limit is None or slices <= limit, (owner, slices, limit)
    return result


arrival = st.tuples(
    st.integers(0, 8),  # pass it arrives in
    st.integers(0, 2),  # owner
    st.integers(0, 4),  # profile
    st.sampled_from(list(Priority)),
    st.integers(1, 8),  # passes it runs
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    config=st.integers(0, len(CONFIGS) - 1),
    arrivals=st.lists(arrival, min_size=5, max_size=40),
    limits=st.lists(st.sampled_from([None, 7, 9, 14]), min_size=3, max_size=3),
    budgets=st.lists(st.sampled_from([None, 50.0]), min_size=3, max_size=3),
)
def test_many_passes_keep_the_invariants(
    config: int, arrivals: list[tuple[Any, ...]], limits: list[int | None], budgets: list[Any]
) -> None:
    gpus = CONFIGS[config]
    quotas = {
        f"user:{k}": Quota(max_slices=limits[k], high_priority_slice_seconds_left=budgets[k])
        for k in range(3)
    }
    sim = Sim(gpus, quotas)
    pending = sorted(enumerate(arrivals), key=lambda item: item[1][0])
    total = 0
    for pass_no in range(400):
        now = T0 + timedelta(seconds=PASS_SECONDS * pass_no)
        while pending and pending[0][1][0] <= pass_no:
            n, (_, owner, profile_i, priority, duration) = pending.pop(0)
            profile = SMALL_PROFILES[profile_i]
            # Only runs some GPU can ever hold (next to other workloads): the rest would wait
            # forever by design (UNSCHEDULABLE or no room beside foreign instances).
            if not any(profile in g.profiles and mig.can_cut(g.held, profile) for g in gpus):
                continue
            run_id = f"r{n}"
            sim.submitted[run_id] = now
            sim.queued[run_id] = QueuedRun(run_id, f"user:{owner}", profile, priority, now)
            sim.durations[run_id] = duration
            total += 1
        step(sim, now)
        if not pending and not sim.queued and not sim.running:
            break
    assert not sim.queued and not sim.running, (
        f"not finished after {pass_no + 1} passes: queued {sorted(sim.queued)}"
    )
    assert len(sim.finished) == total
