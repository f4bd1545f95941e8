"""The cap on a run's stored log: a run printing without end cannot fill the database.

Lines are numbered from 1 per run (`seq`), so the cap is a bound on the number: the line that
would be number `limit` is stored as a line saying the log was cut there, and every later one
is dropped while the pod keeps running (its follower reads on, and stores nothing more). The
cut survives restarts: the next number is read back from what is stored.
"""

from __future__ import annotations

import dataclasses
from typing import Protocol, TypeVar

DEFAULT_MAX_LINES = 1_000_000


class _Numbered(Protocol):
    @property
    def seq(self) -> int: ...


L = TypeVar("L", bound=_Numbered)


def cut_notice(limit: int) -> str:
    """The text of the line that marks the cut."""
    return (
        f"[walkai] This run's log reached its limit of {limit:,} lines "
        "(WALKAI_MAX_LOG_LINES_PER_RUN): later lines are not stored."
    )


def capped(lines: list[L], limit: int) -> list[L]:
    """The lines (numbered, in order) to store under the cap: those before `limit`, and the
    notice in place of number `limit`."""
    kept = [line for line in lines if line.seq < limit]
    cut = next((line for line in lines if line.seq == limit), None)
    if cut is not None:
        kept.append(dataclasses.replace(cut, text=cut_notice(limit)))  # type: ignore[type-var]
    return kept
