"""Schema releases: compare `schema.graphql` with the last released schema, or cut a release.

    python schema/release.py check   # exit 1 on a breaking change that is not flagged
    python schema/release.py cut     # after a passing check: schema.graphql becomes the release

A breaking change is flagged when it removes something the release had already marked
`@deprecated`, or when its description is listed in `schema/accepted-breaking-changes.txt`
(one per line, emptied by `cut`). Dangerous changes (new enum values, new optional
arguments, ...) are printed for clients to notice but never fail the check.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

from graphql import (
    BreakingChange,
    BreakingChangeType,
    DangerousChange,
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    build_schema,
    find_breaking_changes,
    find_dangerous_changes,
)

HERE = Path(__file__).resolve().parent
CURRENT = HERE.parent / "schema.graphql"
RELEASED = HERE / "released.graphql"
ACCEPTED = HERE / "accepted-breaking-changes.txt"

# graphql-core 3.2 and 3.3 word these differently.
_FIELD_REMOVED = re.compile(r"^(?:Field )?(\w+)\.(\w+) was removed\.$")
_ENUM_VALUE_REMOVED = (
    re.compile(r"^Enum value (?P<enum>\w+)\.(?P<value>\w+) was removed\.$"),
    re.compile(r"^(?P<value>\w+) was removed from enum type (?P<enum>\w+)\.$"),
)


@dataclass(frozen=True)
class Report:
    """What changed between the release and the current schema."""

    breaking: list[BreakingChange]
    unflagged: list[BreakingChange]
    dangerous: list[DangerousChange]

    @property
    def ok(self) -> bool:
        """True when every breaking change is flagged."""
        return not self.unflagged


def _was_deprecated(released: GraphQLSchema, change: BreakingChange) -> bool:
    """Whether the release had marked the removed field or enum value `@deprecated`."""
    if change.type == BreakingChangeType.FIELD_REMOVED:
        match = _FIELD_REMOVED.match(change.description)
        if match:
            owner = released.get_type(match[1])
            if isinstance(owner, GraphQLObjectType | GraphQLInterfaceType):
                field = owner.fields.get(match[2])
                return field is not None and field.deprecation_reason is not None
            if isinstance(owner, GraphQLInputObjectType):
                input_field = owner.fields.get(match[2])
                return input_field is not None and input_field.deprecation_reason is not None
    if change.type == BreakingChangeType.VALUE_REMOVED_FROM_ENUM:
        for pattern in _ENUM_VALUE_REMOVED:
            match = pattern.match(change.description)
            if match:
                enum = released.get_type(match["enum"])
                if isinstance(enum, GraphQLEnumType):
                    value = enum.values.get(match["value"])
                    return value is not None and value.deprecation_reason is not None
    return False


def accepted_descriptions(path: Path = ACCEPTED) -> set[str]:
    """Breaking changes accepted by hand for the next release (comments start with #)."""
    if not path.exists():
        return set()
    lines = (line.strip() for line in path.read_text().splitlines())
    return {line for line in lines if line and not line.startswith("#")}


def compare(released_sdl: str, current_sdl: str, accepted: set[str] | None = None) -> Report:
    """Breaking and dangerous changes from the released schema to the current one."""
    released = build_schema(released_sdl)
    current = build_schema(current_sdl)
    accepted = accepted if accepted is not None else accepted_descriptions()
    breaking = find_breaking_changes(released, current)
    unflagged = [
        change
        for change in breaking
        if change.description not in accepted and not _was_deprecated(released, change)
    ]
    return Report(breaking, unflagged, find_dangerous_changes(released, current))


def _print(report: Report) -> None:
    for change in report.breaking:
        flag = "UNFLAGGED" if change in report.unflagged else "flagged"
        print(f"breaking ({flag}): {change.type.name}: {change.description}")
    for danger in report.dangerous:
        print(f"dangerous: {danger.type.name}: {danger.description}")
    if not report.breaking and not report.dangerous:
        print("no breaking or dangerous changes since the last release")


def main(argv: list[str]) -> int:
    """`check` or `cut`; returns the exit code."""
    if len(argv) != 1 or argv[0] not in ("check", "cut"):
        print(__doc__)
        return 2
    report = compare(RELEASED.read_text(), CURRENT.read_text())
    _print(report)
    if not report.ok:
        print(
            "\nUnflagged breaking changes: deprecate first (@deprecated, one release), "
            f"or list them in {ACCEPTED.name} with the reason."
        )
        return 1
    if argv[0] == "cut":
        RELEASED.write_text(CURRENT.read_text())
        ACCEPTED.write_text(_ACCEPTED_HEADER)
        print(f"released: {RELEASED} now equals {CURRENT.name}")
    return 0


_ACCEPTED_HEADER = """\
# Breaking changes accepted for the next release, one description per line, exactly as
# `python schema/release.py check` prints it after "breaking (UNFLAGGED): TYPE: ".
# Say why in the commit that adds a line. `cut` empties this file.
"""

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
