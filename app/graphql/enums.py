"""Descriptions for the values of GraphQL enums whose Python enums live in `app/domain`.

The domain's enums stay plain Python enums; Strawberry reads value descriptions only from
`strawberry.enum_value(...)` members, so this attaches them to the GraphQL definition instead,
next to where each enum is registered with `strawberry.enum(...)`.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any, TypeVar

E = TypeVar("E", bound=enum.Enum)


def describe_values(graphql_enum: type[E], descriptions: Mapping[Any, str]) -> type[E]:
    """Give each value of a `strawberry.enum(...)`-registered enum its description.

    `descriptions` maps members to text; a member left out stays undescribed (and the
    schema test that every enum value has a description names it).
    """
    definition = graphql_enum.__strawberry_definition__  # type: ignore[attr-defined]
    unknown = [key for key in descriptions if not isinstance(key, graphql_enum)]
    if unknown:
        raise ValueError(f"not members of {graphql_enum.__name__}: {unknown}")
    by_name = {member.name: text for member, text in descriptions.items()}
    for value in definition.values:
        value.description = by_name.get(value.name, value.description)
    return graphql_enum
