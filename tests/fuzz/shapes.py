"""Hypothesis strategies for the arguments of every mutation, read from the schema itself: values
of the declared shape (often invalid all the same), and values of the wrong shape.

Fields named `command` or `args` only ever get harmless programs: a valid `createJob` starts a
real process on the simulated cluster.
"""

from __future__ import annotations

import base64
from typing import Any

from graphql import (
    GraphQLArgument,
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
)
from hypothesis import strategies as st

SAFE_PROGRAMS = st.sampled_from([None, [], ["true"], ["sh", "-c", "exit 3"]])
WRONG = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)
NAMES = ["Job", "Run", "Input", "Secret", "Team", "User", "Schedule", "AccessToken", ""]


def global_ids() -> st.SearchStrategy[str]:
    """Malformed ids, ids of nothing, and ids of the wrong type."""
    encoded = st.builds(
        lambda kind, inner: base64.b64encode(f"{kind}:{inner}".encode()).decode(),
        st.sampled_from(NAMES),
        st.one_of(st.uuids().map(str), st.text(max_size=12)),
    )
    return st.one_of(encoded, st.text(max_size=16), st.just("!!!"))


def scalar_values(scalar: GraphQLScalarType) -> st.SearchStrategy[Any]:
    name = scalar.name
    if name == "ID":
        return global_ids()
    if name == "Int":
        return st.one_of(st.integers(-(2**31), 2**31 - 1), st.integers(-5, 100))
    if name in ("Bytes", "BigInt"):
        return st.integers(min_value=-(2**64), max_value=2**64)
    if name == "Float":
        return st.floats(allow_nan=False, allow_infinity=False)
    if name == "Boolean":
        return st.booleans()
    if name == "DateTime":
        return st.one_of(st.datetimes().map(lambda d: d.isoformat()), st.text(max_size=20))
    return st.one_of(st.text(max_size=40), st.from_regex(r"[a-z][a-z0-9.-]{0,20}", fullmatch=True))


def input_values(kind: GraphQLInputType, field: str = "", depth: int = 0) -> st.SearchStrategy[Any]:
    """Values for an input of type `kind`, mostly of its shape, sometimes of none."""
    if field in ("command", "args"):
        return SAFE_PROGRAMS
    if isinstance(kind, GraphQLNonNull):
        return input_values(kind.of_type, field, depth)
    right = _shaped(kind, field, depth)
    return st.one_of(right, right, right, WRONG) if depth < 3 else right


def _shaped(kind: GraphQLInputType, field: str, depth: int) -> st.SearchStrategy[Any]:
    if isinstance(kind, GraphQLList):
        return st.lists(input_values(kind.of_type, field, depth + 1), max_size=3)
    if isinstance(kind, GraphQLEnumType):
        return st.one_of(st.sampled_from(list(kind.values)), st.text(max_size=8))
    if isinstance(kind, GraphQLScalarType):
        return scalar_values(kind)
    assert isinstance(kind, GraphQLInputObjectType)
    required = {n: f for n, f in kind.fields.items() if isinstance(f.type, GraphQLNonNull)}
    optional = {n: f for n, f in kind.fields.items() if n not in required}
    return st.fixed_dictionaries(
        {n: input_values(f.type, n, depth + 1) for n, f in required.items()},
        optional={n: input_values(f.type, n, depth + 1) for n, f in optional.items()},
    )


def mutations(schema: GraphQLSchema) -> dict[str, GraphQLField]:
    assert schema.mutation_type is not None
    return dict(schema.mutation_type.fields)


def document(name: str, field: GraphQLField) -> str:
    """`mutation` calling `name` with every argument as a variable of its declared type."""
    args: dict[str, GraphQLArgument] = field.args
    params = ", ".join(f"${a}: {arg.type}" for a, arg in args.items())
    call = ", ".join(f"{a}: ${a}" for a in args)
    head = f"mutation Fuzz({params})" if params else "mutation Fuzz"
    return f"{head} {{ {name}{f'({call})' if call else ''} {selection(field)} }}"


def selection(field: GraphQLField) -> str:
    kind: GraphQLNamedType = field.type
    while isinstance(kind, GraphQLNonNull | GraphQLList):
        kind = kind.of_type
    if not isinstance(kind, GraphQLObjectType):
        return ""
    errors = "userErrors { field code }" if "userErrors" in kind.fields else ""
    return f"{{ __typename {errors} }}"


def arguments(field: GraphQLField) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({a: input_values(arg.type, a) for a, arg in field.args.items()})
