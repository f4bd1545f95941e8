"""The API's executor answers exactly as graphql-core's does, shortcuts or not.

Plain objects are completed by reading attributes, and a shared subscription event is executed
once per root selection; every answer here is compared with stock Strawberry's.
"""

from __future__ import annotations

import dataclasses
import enum
import gc
from collections.abc import AsyncGenerator
from typing import Any

import orjson
import pytest
import strawberry
from graphql import FieldNode

from app.graphql.execution import ExecutionContext, Schema, encode_json


@strawberry.enum
class Level(enum.Enum):
    INFO = "info"
    WARNING = "warning"


@strawberry.type
class Origin:
    host: str
    port: int


@strawberry.type
class Line:
    seq: int
    text: str
    note: str | None = None
    level: Level = Level.INFO
    tags: list[str] = dataclasses.field(default_factory=list)
    origin: Origin | None = None
    related: list[Line] = dataclasses.field(default_factory=list)

    @strawberry.field
    def shout(self) -> str:
        return self.text.upper()

    @strawberry.field
    async def later(self) -> int:
        return self.seq * 10


@strawberry.type
class Batch:
    lines: list[Line]
    shared: strawberry.Private[dict[Any, Any]] = dataclasses.field(default_factory=dict)


BATCHES: list[Batch] = []
LINES = [
    Line(seq=1, text="a", tags=["x", "y"], origin=Origin(host="h", port=1)),
    Line(seq=2, text="b", note="n", level=Level.WARNING),
]
LINES[1].related = [LINES[0], Line(seq=5, text="e", related=[LINES[0]])]
BROKEN = [
    Line(seq=3, text=None),  # type: ignore[arg-type]
    Line(seq=4, text="d", tags=["x", None], origin=Origin(host=None, port=2)),  # type: ignore[list-item, arg-type]
]


@strawberry.type
class Query:
    @strawberry.field
    def lines(self, broken: bool = False) -> list[Line]:
        return BROKEN if broken else LINES

    @strawberry.field
    def line(self) -> Line:
        return LINES[1]


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def batches(self, since: int = 0) -> AsyncGenerator[Batch, None]:
        for batch in BATCHES:
            yield batch


def schemas() -> tuple[strawberry.Schema, strawberry.Schema]:
    ours = Schema(query=Query, subscription=Subscription, execution_context_class=ExecutionContext)
    stock = strawberry.Schema(query=Query, subscription=Subscription)
    return ours, stock


@pytest.mark.parametrize(
    "query",
    [
        "{ lines { seq text note } }",
        "{ lines { n: seq t: text __typename } line { note seq } }",
        "{ lines { seq shout } }",  # a resolver: the generic way
        "{ lines { ...F } } fragment F on Line { seq text }",
        "{ lines { ... on Line { seq } text } }",
        "{ lines(broken: true) { seq text } }",  # null in a non-null field: an error
        "{ lines { seq @include(if: false) text } }",
        "{ lines { seq level tags origin { host port __typename } } }",  # nested, enums, lists
        "{ lines { related { seq related { text level } } } }",
        "{ lines { origin { host } origin { port } o: origin { port } } }",  # merged selections
        "{ lines(broken: true) { seq origin { host port } } }",  # null deep in a non-null field
        "{ lines(broken: true) { seq tags } }",  # null in a list of non-null items
        "{ line { related { shout } } }",  # a resolver deep down: the generic way
        # Plain fields next to resolvers: each completed its own way, in the asked order.
        "{ lines { later seq shout __typename origin { host } later2: later note } }",
        "{ lines(broken: true) { seq text shout origin { host } tags later } }",
        "{ line { level related { later seq text } } }",
    ],
)
async def test_queries_answer_as_graphql_core_does(query: str) -> None:
    ours, stock = schemas()
    mine, theirs = await ours.execute(query), await stock.execute(query)
    assert mine.data == theirs.data
    assert [e.formatted for e in mine.errors or []] == [e.formatted for e in theirs.errors or []]


async def _events(schema: strawberry.Schema, query: str) -> list[Any]:
    stream = await schema.subscribe(query)
    return [orjson.loads(encode_json(result.data)) async for result in stream]  # type: ignore[union-attr]


async def test_subscribers_asking_for_the_same_fields_share_an_event_and_others_get_theirs() -> (
    None
):
    ours, stock = schemas()
    BATCHES[:] = [Batch(lines=LINES), Batch(lines=LINES[:1])]
    same = "subscription { batches(since: 1) { lines { seq text } } }"
    other = "subscription { b: batches { lines { seq note } } }"
    first = await _events(ours, same)
    second = await _events(ours, same.replace("since: 1", "since: 2"))
    third = await _events(ours, other)
    assert first == second == await _events(stock, same)
    assert third == await _events(stock, other)
    # One result per batch for the first root selection, one for the other.
    assert all(len(batch.shared) == 2 for batch in BATCHES)


async def test_documents_no_longer_used_are_freed_after_a_bounded_number() -> None:
    """The executor remembers what it derived from each document it saw, which keeps the
    document's nodes (and all its tokens: about 12 KiB for a subscription): at most 2,048 of
    them (least recently used go first), and what it forgot it derives again."""
    ours, _ = schemas()

    def alive() -> int:
        gc.collect()
        return sum(isinstance(o, FieldNode) and o.name.value == "lines" for o in gc.get_objects())

    before = alive()
    for i in range(2_500):
        result = await ours.execute(f"{{ lines {{ s{i}: seq }} }}")
        assert result.data == {"lines": [{f"s{i}": 1}, {f"s{i}": 2}]}
    assert alive() - before <= 2_048
    again = await ours.execute("{ lines { s0: seq } }")
    assert again.data == {"lines": [{"s0": 1}, {"s0": 2}]}
