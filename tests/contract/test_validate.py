"""Every operation in frontend_contract/ is valid against schema.graphql, and the folder is tidy."""

from __future__ import annotations

from functools import cache

import pytest
from graphql import GraphQLSchema, build_schema, parse, validate

from tests.contract.contract import CONTRACT, ROOT, fragment_names, operations

SCREENS = [
    "Login",
    "Dashboard",
    "Cluster",
    "Jobs",
    "JobDetail",
    "RunDetail",
    "Inputs",
    "Secrets",
    "Users",
    "Profile",
    "cli",
]


@cache
def schema() -> GraphQLSchema:
    return build_schema((ROOT / "schema.graphql").read_text())


@pytest.mark.parametrize("name", sorted(operations()))
def test_operation_validates_against_the_schema(name: str) -> None:
    errors = validate(schema(), operations()[name].document)
    assert not errors, f"{operations()[name].path}: " + "; ".join(e.message for e in errors)


@pytest.mark.parametrize("name", sorted(operations()))
def test_operation_is_named_like_its_file(name: str) -> None:
    op = operations()[name]
    assert op.path.stem == name
    others = [d for d in parse(op.path.read_text()).definitions if d.kind == "operation_definition"]
    assert len(others) == 1, f"{op.path} holds more than one operation"


def test_every_fragment_is_used() -> None:
    used = {
        fragment
        for op in operations().values()
        for fragment in fragment_names()
        if f"fragment {fragment} on" in op.text
    }
    assert fragment_names() - used == set()


@pytest.mark.parametrize("screen", SCREENS)
def test_every_screen_has_a_readme(screen: str) -> None:
    assert (CONTRACT / screen / "README.md").is_file()


def test_operations_live_in_screen_folders() -> None:
    assert {op.screen for op in operations().values()} <= set(SCREENS)


def test_a_broken_operation_is_reported() -> None:
    # The check above must be able to fail: a field the schema lacks is an error.
    document = parse("query Broken { jobs { edges { node { nameOfNothing } } } }")
    assert [e.message for e in validate(schema(), document)] == [
        "Cannot query field 'nameOfNothing' on type 'Job'."
    ]
