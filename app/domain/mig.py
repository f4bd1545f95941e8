"""MIG geometry: which profiles can be carved together on one GPU. Pure, no I/O.

The model follows NVIDIA's A100/H100 geometry, which is what decides whether two profiles can
share a GPU:

- a GPU has 7 compute slices and 8 memory slices;
- a profile ``<g>g.<m>gb`` uses ``g`` compute slices and a fixed run of memory slices that
  may only start at certain indices (NVIDIA's "placements"):

  ======== ============= ===============
  compute  memory slices  valid starts
  ======== ============= ===============
  1g       1             0, 1, 2, 3, 4, 5, 6
  2g       2             0, 2, 4
  3g       4             0, 4
  4g       4             0
  7g       8             0
  ======== ============= ===============

  so ``4g + 3g`` or ``3g + 2g + 1g + 1g`` fit on one GPU, ``4g + 4g`` or ``3g + 3g + 1g``
  do not.

A running cluster does not say which start each instance uses, and walk:ai nos re-cuts free
slices when it re-plans, so "can these be cut together" means "is there *some* valid placement
of all of them": a tiny backtracking search, memoised on the multiset of compute sizes (the
geometry depends on nothing else), so the admission pass can ask it thousands of times.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

COMPUTE_SLICES = 7
MEMORY_SLICES = 8

# compute slices -> (memory slices, valid start indices)
GEOMETRY: dict[int, tuple[int, tuple[int, ...]]] = {
    1: (1, (0, 1, 2, 3, 4, 5, 6)),
    2: (2, (0, 2, 4)),
    3: (4, (0, 4)),
    4: (4, (0,)),
    7: (8, (0,)),
}

# The compute sizes a profile can have, smallest first: the axes of a size-count vector.
SIZES: tuple[int, ...] = tuple(sorted(GEOMETRY))

# GPU model -> total memory in GB (the memory of a profile is memory slices x total / 8).
GPU_MODELS: dict[str, int] = {
    "A100-40GB": 40,
    "A100-80GB": 80,
    "H100-80GB": 80,
    "H100-96GB": 96,
    "H200-141GB": 141,
}

_PROFILE_RE = re.compile(r"^(\d)g\.(\d+)gb$")


@dataclass(frozen=True)
class MigProfile:
    """One MIG profile (``3g.40gb``) and the slices it occupies."""

    name: str
    compute: int
    memory_slices: int
    starts: tuple[int, ...]


def parse_profile(name: str, gpu_memory_gb: int | None = None) -> MigProfile:
    """Parse ``<g>g.<m>gb``; with ``gpu_memory_gb``, check ``m`` matches the GPU's geometry."""
    match = _PROFILE_RE.match(name)
    if not match or int(match.group(1)) not in GEOMETRY:
        raise ValueError(f"unknown MIG profile {name!r}")
    compute = int(match.group(1))
    memory_slices, starts = GEOMETRY[compute]
    if gpu_memory_gb is not None:
        expected = gpu_memory_gb * memory_slices // MEMORY_SLICES
        # H100-96GB style sizes round, so accept the nearest whole GB either way.
        if abs(int(match.group(2)) - expected) > 1:
            raise ValueError(
                f"MIG profile {name!r} does not exist on a {gpu_memory_gb}GB GPU "
                f"({compute}g is {expected}gb there)"
            )
    return MigProfile(name, compute, memory_slices, starts)


def model_profiles(model: str) -> tuple[str, ...]:
    """Every profile of a known GPU model's geometry, smallest first (``1g.10gb`` …)."""
    memory = GPU_MODELS[model]
    return tuple(f"{g}g.{memory * mem // MEMORY_SLICES}gb" for g, (mem, _) in GEOMETRY.items())


@lru_cache(maxsize=64)
def profile_units(name: str) -> tuple[int, int]:
    """``(compute slices, memory slices)`` a profile takes on its GPU."""
    profile = parse_profile(name)
    return profile.compute, profile.memory_slices


def size_index(name: str) -> int:
    """The axis of ``name``'s compute size in a size-count vector (see ``fits_counts``)."""
    return SIZES.index(profile_units(name)[0])


def counts_of(profiles: Iterable[str]) -> tuple[int, ...]:
    """How many instances of each compute size (in ``SIZES`` order) ``profiles`` hold."""
    counts = [0] * len(SIZES)
    for name in profiles:
        counts[size_index(name)] += 1
    return tuple(counts)


@lru_cache(maxsize=4096)
def fits_counts(counts: tuple[int, ...]) -> bool:
    """Whether instances with these per-size counts can all be cut on one GPU together.

    Backtracking, biggest instances first (they have the fewest starts), over a bitmask of the
    8 memory slices. At most 7 instances, so the search is tiny; the cache makes repeats free.
    """
    if any(c < 0 for c in counts):
        raise ValueError(f"negative instance count in {counts}")
    sizes = [size for size, count in zip(SIZES, counts, strict=True) for _ in range(count)]
    if sum(sizes) > COMPUTE_SLICES:
        return False
    sizes.sort(reverse=True)
    masks = {
        size: [((1 << mem) - 1) << start for start in starts]
        for size, (mem, starts) in GEOMETRY.items()
    }

    def place(i: int, busy: int) -> bool:
        if i == len(sizes):
            return True
        return any(not busy & mask and place(i + 1, busy | mask) for mask in masks[sizes[i]])

    return place(0, 0)


def fits(profiles: Sequence[str]) -> bool:
    """Whether instances of all ``profiles`` can be cut on one GPU at the same time."""
    return fits_counts(counts_of(profiles))


def can_cut(held: Sequence[str], profile: str) -> bool:
    """Whether ``profile`` can be carved on a GPU next to instances of the ``held`` profiles.

    Tries every valid placement of all of them, since the cluster does not tell which start
    each held instance uses and free slices can be re-cut.
    """
    return fits([*held, profile])


def free_compute(held: Sequence[str]) -> int:
    """Compute slices not taken by ``held`` (which may still be unusable for memory reasons)."""
    return COMPUTE_SLICES - sum(profile_units(name)[0] for name in held)


def cuttable_profiles(held: Sequence[str], allowed: Iterable[str]) -> list[str]:
    """The ``allowed`` profiles (in their order) that can still be cut next to ``held``."""
    return [name for name in allowed if can_cut(held, name)]
