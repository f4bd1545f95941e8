"""MIG geometry: which profiles can be cut together on one GPU."""

from __future__ import annotations

import itertools

import pytest

from app.domain import mig
from app.sim import nodes


@pytest.mark.parametrize(
    ("held", "profile", "expected"),
    [
        ((), "7g.80gb", True),
        (("1g.10gb",), "7g.80gb", False),
        (("4g.40gb",), "3g.40gb", True),
        (("4g.40gb",), "4g.40gb", False),
        (("3g.40gb",), "3g.40gb", True),
        (("3g.40gb", "3g.40gb"), "1g.10gb", False),  # 6 compute, but all 8 memory slices used
        (("3g.40gb", "2g.20gb", "1g.10gb"), "1g.10gb", True),
        (("3g.40gb", "2g.20gb", "2g.20gb"), "1g.10gb", False),  # compute 8 > 7
        (("2g.20gb", "2g.20gb"), "2g.20gb", True),
        (("2g.20gb", "2g.20gb", "2g.20gb"), "1g.10gb", True),  # 1g at memory slice 6
        (("2g.20gb", "2g.20gb", "2g.20gb", "1g.10gb"), "1g.10gb", False),
        (("4g.40gb", "2g.20gb"), "1g.10gb", True),
        (("4g.40gb", "1g.10gb", "1g.10gb"), "2g.20gb", False),  # 1g pair blocks the 2g pair
        (("1g.10gb",) * 6, "1g.10gb", True),
        (("1g.10gb",) * 7, "1g.10gb", False),
        (("1g.10gb",) * 4, "3g.40gb", True),  # 1g at 0-3, 3g at 4
        (("1g.10gb",) * 4, "4g.40gb", False),  # compute 8 > 7
        (("3g.40gb", "1g.10gb"), "3g.40gb", False),  # 3g needs 4 free slices at 0 or 4
        (("1g.5gb",), "3g.20gb", True),  # names of a 40GB GPU: geometry only
    ],
)
def test_can_cut(held: tuple[str, ...], profile: str, expected: bool) -> None:
    assert mig.can_cut(held, profile) is expected


def test_can_cut_does_not_depend_on_order() -> None:
    held = ["1g.10gb", "4g.40gb", "1g.10gb"]
    for perm in itertools.permutations(held):
        assert mig.can_cut(list(perm), "1g.10gb")
        assert not mig.can_cut(list(perm), "2g.20gb")


def test_unknown_profile_raises() -> None:
    with pytest.raises(ValueError, match="unknown MIG profile"):
        mig.can_cut([], "5g.50gb")


@pytest.mark.parametrize(
    ("held", "free"),
    [((), 7), (("3g.40gb",), 4), (("4g.40gb", "3g.40gb"), 0), (("1g.10gb", "2g.20gb"), 4)],
)
def test_free_compute(held: tuple[str, ...], free: int) -> None:
    assert mig.free_compute(held) == free


@pytest.mark.parametrize(
    ("held", "expected"),
    [
        ((), ["1g.10gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb"]),
        (("4g.40gb",), ["1g.10gb", "2g.20gb", "3g.40gb"]),
        (("3g.40gb",), ["1g.10gb", "2g.20gb", "3g.40gb", "4g.40gb"]),  # 3g re-cut at 4
        (("3g.40gb", "1g.10gb"), ["1g.10gb", "2g.20gb"]),
        (("3g.40gb", "3g.40gb"), []),
        (("1g.10gb",) * 5, ["1g.10gb", "2g.20gb"]),
    ],
)
def test_cuttable_profiles(held: tuple[str, ...], expected: list[str]) -> None:
    allowed = mig.model_profiles("A100-80GB")
    assert mig.cuttable_profiles(held, allowed) == expected


def test_cuttable_profiles_respects_allowed() -> None:
    assert mig.cuttable_profiles([], ["3g.40gb", "1g.10gb"]) == ["3g.40gb", "1g.10gb"]


@pytest.mark.parametrize(
    ("name", "units"),
    [("1g.10gb", (1, 1)), ("2g.20gb", (2, 2)), ("3g.40gb", (3, 4)), ("4g.40gb", (4, 4)),
     ("7g.80gb", (7, 8))],
)  # fmt: skip
def test_profile_units(name: str, units: tuple[int, int]) -> None:
    assert mig.profile_units(name) == units


def test_fits_counts_matches_exhaustive_placement() -> None:
    """The memoised search agrees with a brute force over every start of every instance."""

    def brute(sizes: list[int]) -> bool:
        if sum(sizes) > mig.COMPUTE_SLICES:
            return False
        options = [
            [set(range(start, start + mig.GEOMETRY[s][0])) for start in mig.GEOMETRY[s][1]]
            for s in sizes
        ]
        for combo in itertools.product(*options):
            used = [slot for slots in combo for slot in slots]
            if len(used) == len(set(used)):
                return True
        return not sizes

    for counts in itertools.product(range(8), range(4), range(3), range(2), range(2)):
        sizes = [s for s, c in zip(mig.SIZES, counts, strict=True) for _ in range(c)]
        if sum(sizes) > 9:
            continue
        assert mig.fits_counts(counts) is brute(sizes), counts


def test_sim_nodes_reexports_geometry() -> None:
    assert nodes.COMPUTE_SLICES == 7 and nodes.MEMORY_SLICES == 8
    assert nodes.parse_profile is mig.parse_profile
    assert nodes.MigProfile is mig.MigProfile
    assert nodes.GPU_MODELS is mig.GPU_MODELS
    assert nodes.default_gpu("A100-40GB").profiles == mig.model_profiles("A100-40GB")
