"""Schema stability: no unflagged breaking change since the last release, and full descriptions."""

from __future__ import annotations

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLUnionType,
    build_schema,
)
from graphql.type.introspection import introspection_types
from graphql.type.scalars import specified_scalar_types

from schema.release import ACCEPTED, CURRENT, RELEASED, accepted_descriptions, compare

RELEASE = """
type Query {
  "a"
  job: Job
}
"Job"
enum Kind {
  "a"
  A
  "b"
  B @deprecated(reason: "gone")
}
"Job"
type Job {
  "kind"
  kind: Kind
  "id"
  id: ID!
  "old"
  old: String @deprecated(reason: "use name")
  "kept"
  kept: String
}
"""


def test_no_unflagged_breaking_change_since_the_last_release() -> None:
    report = compare(RELEASED.read_text(), CURRENT.read_text())
    assert report.ok, (
        "unflagged breaking changes against schema/released.graphql: "
        + "; ".join(c.description for c in report.unflagged)
        + " — deprecate first, or accept in "
        + ACCEPTED.name
    )


def test_removing_an_undeprecated_field_is_unflagged() -> None:
    report = compare(RELEASE, RELEASE.replace('"kept"\n  kept: String\n', ""), accepted=set())
    assert [c.description for c in report.unflagged] == ["Field Job.kept was removed."]


def test_removing_a_deprecated_field_is_flagged() -> None:
    current = RELEASE.replace('"old"\n  old: String @deprecated(reason: "use name")\n', "")
    report = compare(RELEASE, current, accepted=set())
    assert [c.description for c in report.breaking] == ["Field Job.old was removed."]
    assert report.ok


def test_removing_a_deprecated_enum_value_is_flagged_and_another_is_not() -> None:
    assert compare(RELEASE, RELEASE.replace('"b"\n  B @deprecated(reason: "gone")\n', "")).ok
    report = compare(RELEASE, RELEASE.replace('"a"\n  A\n', ""), accepted=set())
    assert [c.description for c in report.unflagged] == ["Enum value Kind.A was removed."]


def test_an_accepted_breaking_change_is_flagged() -> None:
    current = RELEASE.replace("kept: String", "kept: Int")
    assert not compare(RELEASE, current, accepted=set()).ok
    accepted = {"Field Job.kept changed type from String to Int."}
    assert compare(RELEASE, current, accepted=accepted).ok


def test_the_accepted_list_starts_empty_after_a_release() -> None:
    # Entries belong to the next release only; `cut` empties the file.
    released_unchanged = RELEASED.read_text() == CURRENT.read_text()
    assert not (released_unchanged and accepted_descriptions())


def _undescribed() -> list[str]:
    schema = build_schema(CURRENT.read_text())
    roots = {schema.query_type, schema.mutation_type, schema.subscription_type}
    missing: list[str] = []
    for name, type_ in schema.type_map.items():
        if name in introspection_types or name in specified_scalar_types:
            continue
        # The root operation types are only containers; their fields carry the meaning.
        if type_ not in roots and not type_.description:
            missing.append(name)
        if isinstance(type_, GraphQLObjectType | GraphQLInterfaceType):
            for field_name, field in type_.fields.items():
                if not field.description:
                    missing.append(f"{name}.{field_name}")
                missing += [
                    f"{name}.{field_name}({arg})"
                    for arg, argument in field.args.items()
                    if not argument.description
                ]
        elif isinstance(type_, GraphQLInputObjectType):
            missing += [f"{name}.{f}" for f, v in type_.fields.items() if not v.description]
        elif isinstance(type_, GraphQLEnumType):
            missing += [f"{name}.{v}" for v, value in type_.values.items() if not value.description]
        else:
            assert isinstance(type_, GraphQLScalarType | GraphQLUnionType)
    return missing


def test_every_type_field_argument_and_enum_value_has_a_description() -> None:
    assert _undescribed() == []
