"""What a fault scenario is judged by: counts expected and seen, and what went wrong."""

from __future__ import annotations

from dataclasses import dataclass, field

# The counts of a report, in the order they are printed.
COUNTS = ("runs", "transitions", "lines", "artifacts")


@dataclass(frozen=True)
class Size:
    """How big a scenario is: runs at once, lines each prints, faults injected while they do."""

    runs: int
    lines: int
    faults: int
    files: int = 2  # files each run writes to its output directory
    pause: float = 0.01  # seconds between two lines


@dataclass
class Report:
    """Expected vs seen per count, and every problem found (lost, duplicated, left wrong).

    `runs`: runs that ended with the right status. `transitions`: status changes a `runStatus`
    subscriber was told (a snapshot counts for the changes before it). `lines`: lines read back
    through the `logs` connection. `artifacts`: files listed and downloaded with their size.
    """

    scenario: str
    size: Size
    expected: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))
    seen: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))
    problems: list[str] = field(default_factory=list)
    faults: int = 0  # faults actually injected (e.g. watches dropped)
    seconds: float = 0.0  # from the first submission until every check was made
    note: str = ""

    @property
    def held(self) -> bool:
        """Nothing lost, duplicated or left wrong."""
        return not self.problems and self.expected == self.seen

    def count(self, name: str, expected: int, seen: int) -> None:
        """Add one run's share of a count."""
        self.expected[name] += expected
        self.seen[name] += seen

    def text(self) -> str:
        """The report for a person: one line of counts, then each problem."""
        counts = ", ".join(f"{n} {self.seen[n]}/{self.expected[n]}" for n in COUNTS)
        head = f"{self.scenario}: {'held' if self.held else 'NOT HELD'} ({counts} seen/expected"
        head += f"; {self.faults} faults; {self.seconds:.1f} s"
        head += f"{'; ' + self.note if self.note else ''})"
        return "\n".join([head, *(f"  - {p}" for p in self.problems[:40])])

    def row(self) -> dict[str, object]:
        """The report as one row of `bench/run.py`'s table of counts."""
        return {
            "name": self.scenario,
            "counts": {n: [self.expected[n], self.seen[n]] for n in COUNTS},
            "faults": self.faults,
            "seconds": round(self.seconds, 1),
            "held": self.held,
            "note": "; ".join(self.problems[:3]) or self.note,
        }
