"""How many examples a fuzz test draws on this run's database backend.

The input space is explored on SQLite, where the whole suite runs; the PostgreSQL run draws a
quarter of the same (derandomized) examples: it checks that this database, too, answers them
with client errors and keeps nothing half-created, without paying for the search twice.
"""

from __future__ import annotations

from tests.conftest import BACKEND


def examples(on_sqlite: int) -> int:
    """`on_sqlite` examples on SQLite; a quarter of them (at least 5) on PostgreSQL."""
    return on_sqlite if BACKEND == "sqlite" else max(5, on_sqlite // 4)
