"""Looking up Relay nodes by id: what every type's `resolve_nodes` shares."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar
from uuid import UUID

from strawberry import relay
from tortoise.models import Model

M = TypeVar("M", bound=Model)


def parse_uuid(value: str) -> UUID | None:
    """A UUID from a node id's inner part; None for anything else (treated as not found)."""
    try:
        return UUID(value)
    except ValueError:
        return None


def lenient_global_id(value: str) -> relay.GlobalID:
    """A global id from text; one that cannot be decoded names no type (every lookup then
    answers not found), so a mutation reports it beside its other fields' problems."""
    try:
        return relay.GlobalID.from_id(value)
    except relay.GlobalIDValueError:
        return relay.GlobalID(type_name="", node_id="")


def uuid_of(value: str | relay.GlobalID | None, type_name: str) -> UUID | None:
    """The UUID a client's global id names, if it names a `type_name`; None when it is
    malformed, of another type or absent. Mutations take ids as plain `ID`s decoded here, so a
    malformed one is a NOT_FOUND userError of its own field beside the other fields' problems
    (a `relay.GlobalID` argument would fail the whole request instead)."""
    if value is None:
        return None
    global_id = value if isinstance(value, relay.GlobalID) else lenient_global_id(value)
    return parse_uuid(global_id.node_id) if global_id.type_name == type_name else None


async def load_visible(
    model: type[M], node_ids: Iterable[str], allowed: Callable[[M], Any], **where: Any
) -> list[M | None]:
    """The rows with these ids (and `where` filters), in order, None where missing or not
    `allowed` (the same answer: an object the viewer may not see looks exactly like a missing
    one)."""
    ids = [parse_uuid(i) for i in node_ids]
    rows = await model.filter(id__in=[i for i in ids if i], **where)
    found = {row.pk: row for row in rows if allowed(row)}
    return [found.get(i) if i else None for i in ids]
