"""The capacity view's aggregation, table-tested on plain data."""

from __future__ import annotations

import pytest

from app.domain.admission import Gpu
from app.domain.priority import Priority
from app.services.capacity import (
    Load,
    PartitionStatus,
    PlacedRun,
    QueuedRun,
    Slices,
    build_view,
    gpu_view,
    queued_demand,
    running_by_priority,
    stopping_run_ids,
)

A100 = frozenset({"1g.10gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb"})
ALL = ["1g.10gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb"]
LOW, MEDIUM, HIGH = Priority.LOW, Priority.MEDIUM, Priority.HIGH


def gpu(node: str = "node-a", index: int = 0) -> Gpu:
    return Gpu(node=node, index=index, model="A100-80GB", profiles=A100)


def placed(
    run_id: str,
    profile: str,
    *,
    priority: Priority = MEDIUM,
    slot: tuple[str, int] | None = ("node-a", 0),
    freeing: bool = False,
) -> PlacedRun:
    return PlacedRun(run_id, profile, priority, slot, freeing)


@pytest.mark.parametrize(
    ("held", "compute_used", "memory_used", "cuttable"),
    [
        ([], 0, 0, ALL),
        (["3g.40gb"], 3, 4, ["1g.10gb", "2g.20gb", "3g.40gb", "4g.40gb"]),
        (["3g.40gb", "2g.20gb"], 5, 6, ["1g.10gb", "2g.20gb"]),
        (["4g.40gb"], 4, 4, ["1g.10gb", "2g.20gb", "3g.40gb"]),
        (["4g.40gb", "3g.40gb"], 7, 8, []),
        (["7g.80gb"], 7, 8, []),
        # 3g + 3g leaves one compute slice but no memory slice: nothing more can be cut.
        (["3g.40gb", "3g.40gb"], 6, 8, []),
        (["1g.10gb"] * 7, 7, 7, []),
        (["2g.20gb", "2g.20gb", "2g.20gb"], 6, 6, ["1g.10gb"]),
    ],
)
def test_a_gpu_adds_up_its_partitions(
    held: list[str], compute_used: int, memory_used: int, cuttable: list[str]
) -> None:
    view = gpu_view(gpu(), [placed(f"r{i}", p) for i, p in enumerate(held)])
    assert view.compute == Slices(7, compute_used)
    assert view.compute.free == 7 - compute_used
    assert view.memory == Slices(8, memory_used)
    assert list(view.cuttable) == cuttable
    assert sorted(p.profile for p in view.partitions) == sorted(held)


def test_partitions_being_freed_take_slices_and_come_last() -> None:
    view = gpu_view(
        gpu(),
        [
            placed("stopping", "4g.40gb", freeing=True),
            placed("small", "1g.10gb"),
            placed("big", "2g.20gb", priority=HIGH),
        ],
    )
    assert [(p.run_id, p.status, p.priority) for p in view.partitions] == [
        ("big", PartitionStatus.IN_USE, HIGH),
        ("small", PartitionStatus.IN_USE, MEDIUM),
        ("stopping", PartitionStatus.FREEING, MEDIUM),
    ]
    assert view.compute == Slices(7, 7) and view.cuttable == ()
    assert [p.compute_slices for p in view.partitions] == [2, 1, 4]


def test_cuttable_profiles_are_those_the_node_offers() -> None:
    only_small = Gpu("node-a", 0, "A100-80GB", frozenset({"2g.20gb", "1g.10gb"}))
    assert gpu_view(only_small, []).cuttable == ("1g.10gb", "2g.20gb")


def test_free_never_goes_negative() -> None:
    assert Slices(7, 9).free == 0


@pytest.mark.parametrize(
    ("queued", "expected"),
    [
        ([], ()),
        (
            [("3g.40gb", LOW), ("1g.10gb", HIGH), ("3g.40gb", MEDIUM)],
            (Load("1g.10gb", 1, 1), Load("3g.40gb", 2, 6)),
        ),
        ([("7g.80gb", LOW)] * 3, (Load("7g.80gb", 3, 21),)),
        # A profile no geometry knows (a misconfigured Job) is listed, at no slices, last.
        ([("9g.99gb", LOW), ("2g.20gb", LOW)], (Load("2g.20gb", 1, 2), Load("9g.99gb", 1, 0))),
    ],
)
def test_queued_demand_per_profile(
    queued: list[tuple[str, Priority]], expected: tuple[Load, ...]
) -> None:
    assert queued_demand([QueuedRun(p, prio) for p, prio in queued]) == expected


def test_running_by_priority_lists_every_priority_highest_first_without_freeing_runs() -> None:
    runs = [
        placed("a", "3g.40gb", priority=HIGH),
        placed("b", "1g.10gb", priority=LOW),
        placed("c", "2g.20gb", priority=LOW, slot=None),
        placed("d", "4g.40gb", priority=HIGH, freeing=True),
    ]
    assert running_by_priority(runs) == (
        Load("EXTRA_HIGH", 0, 0),
        Load("HIGH", 1, 3),
        Load("MEDIUM", 0, 0),
        Load("LOW", 2, 3),
    )


def test_the_cluster_view_groups_gpus_by_node_and_adds_up() -> None:
    gpus = [gpu("node-a", 0), gpu("node-a", 1), gpu("node-b", 0)]
    runs = [
        placed("x", "3g.40gb", slot=("node-a", 1)),
        placed("y", "2g.20gb", slot=("node-a", 1)),
        placed("z", "7g.80gb", slot=("node-b", 0), priority=HIGH),
        placed("gone", "1g.10gb", slot=("node-c", 0)),  # its node is cordoned
        placed("freeing", "1g.10gb", slot=("node-a", 0), freeing=True),
    ]
    view = build_view(gpus, runs, [QueuedRun("1g.10gb", LOW)])
    assert [(n.name, [g.index for g in n.gpus]) for n in view.nodes] == [
        ("node-a", [0, 1]),
        ("node-b", [0]),
    ]
    a0, a1 = view.nodes[0].gpus
    assert a0.compute == Slices(7, 1) and a0.partitions[0].status is PartitionStatus.FREEING
    assert a1.compute == Slices(7, 5) and a1.cuttable == ("1g.10gb", "2g.20gb")
    assert view.nodes[1].gpus[0].compute == Slices(7, 7)
    assert view.totals.gpus == 3
    assert view.totals.compute == Slices(21, 13)
    assert view.totals.memory == Slices(24, 15)
    assert view.queued_demand == (Load("1g.10gb", 1, 1),)
    assert dict((load.key, load.runs) for load in view.running_by_priority) == {
        "EXTRA_HIGH": 0,
        "HIGH": 1,
        "MEDIUM": 3,
        "LOW": 0,
    }


def test_equal_inputs_make_equal_views() -> None:
    runs = [placed("x", "3g.40gb")]
    assert build_view([gpu()], runs, []) == build_view([gpu()], list(runs), [])
    assert build_view([gpu()], runs, []) != build_view([gpu()], [], [])


@pytest.mark.parametrize(
    ("pods", "expected"),
    [
        ([], set()),
        (
            [
                {"metadata": {"labels": {"walkai.io/run-id": "a"}}, "status": {"phase": "Running"}},
                {"metadata": {"labels": {"walkai.io/run-id": "b"}}, "status": {"phase": "Pending"}},
                {"metadata": {"labels": {"walkai.io/run-id": "c"}}, "status": {"phase": "Failed"}},
                {
                    "metadata": {"labels": {"walkai.io/run-id": "d"}},
                    "status": {"phase": "Succeeded"},
                },
                {"metadata": {"labels": {}}, "status": {"phase": "Running"}},
                {"metadata": {"labels": {"walkai.io/run-id": "e"}}},
            ],
            {"a", "b", "e"},
        ),
    ],
)
def test_stopping_run_ids_are_pods_that_have_not_ended(
    pods: list[dict[str, object]], expected: set[str]
) -> None:
    assert stopping_run_ids(pods) == expected
