"""Keyset pagination: opaque cursors that hold a row's sort key, and page-size bounds."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Annotated, Any, TypeVar
from uuid import UUID

import orjson
import strawberry
from strawberry import relay
from tortoise.expressions import Q
from tortoise.queryset import QuerySet

from app.graphql.errors import PublicError

MAX_PAGE = 100
DEFAULT_PAGE = 20

# The arguments every connection field takes.
First = Annotated[int | None, strawberry.argument(description=f"Page size, 1 to {MAX_PAGE}.")]
After = Annotated[str | None, strawberry.argument(description="`endCursor` of the previous page.")]

T = TypeVar("T")
N = TypeVar("N", bound=relay.Node)


def page_size(first: int | None) -> int:
    """The page size asked for, checked against the bounds (1 to 100)."""
    if first is None:
        return DEFAULT_PAGE
    if not 1 <= first <= MAX_PAGE:
        raise PublicError(f"`first` must be between 1 and {MAX_PAGE}.")
    return first


def encode_cursor(*key: str | int) -> str:
    """An opaque cursor for a row's sort key (JSON inside: every line of a log has one)."""
    return base64.urlsafe_b64encode(orjson.dumps(key)).decode()


def decode_cursor(cursor: str, arity: int) -> list[str | int]:
    """The sort key inside a cursor; a PublicError if the cursor is not one of ours."""
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, binascii.Error) as exc:
        raise PublicError("The cursor is not valid.") from exc
    if not isinstance(key, list) or len(key) != arity:
        raise PublicError("The cursor is not valid.")
    return key


def build_connection(
    connection: type[relay.Connection[N]],
    rows: Sequence[T],
    size: int,
    *,
    has_previous: bool,
    cursor_of: Callable[[T], str],
    node_of: Callable[[T], N],
) -> relay.Connection[N]:
    """A connection from up to `size + 1` rows (the extra row only says there is a next page)."""
    page = rows[:size]
    edges = [relay.Edge(cursor=cursor_of(row), node=node_of(row)) for row in page]
    return connection(
        edges=edges,
        page_info=relay.PageInfo(
            has_next_page=len(rows) > size,
            has_previous_page=has_previous,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
    )


async def newest_first(
    connection: type[relay.Connection[N]],
    query: QuerySet[Any],
    first: int | None,
    after: str | None,
    node_of: Callable[[Any], N],
) -> relay.Connection[N]:
    """A page of rows newest first, keyed by (created_at, id): stable while rows are added."""
    size = page_size(first)
    if after is not None:
        at, id_ = decode_cursor(after, 2)
        when = datetime.fromisoformat(str(at))
        try:
            key = UUID(str(id_))
        except ValueError as exc:
            raise PublicError("The cursor is not valid.") from exc
        query = query.filter(Q(created_at__lt=when) | Q(created_at=when, id__lt=key))
    rows = await query.order_by("-created_at", "-id").limit(size + 1)
    return build_connection(
        connection,
        rows,
        size,
        has_previous=after is not None,
        cursor_of=lambda row: encode_cursor(row.created_at.isoformat(), str(row.id)),
        node_of=node_of,
    )
