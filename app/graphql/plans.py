"""Plain fields: completed by reading attributes, without graphql-core's generic path.

A field without arguments or directives, read by Strawberry's default resolver (an attribute),
whose type is a scalar, an enum, or an object whose selected fields are plain in turn (or a list
of those), is completed by reading and serializing the attribute directly. The generic path
builds a path and a resolve-info object and walks four calls per field: completing a 500-line
log batch that way cost more than delivering it to 1,000 subscribers, and a page of 50 Jobs
walked it about 40,000 times (each artifact's `edges { node { path size lastModified } }` five
times). An object's plain fields are completed this way next to its other fields, which go the
generic way (`ExecutionContext.execute_fields`); a wholly plain object, or a list of them, is
completed in one go (`complete_object_value`, `complete_list_value`).

Anything else — fragments, resolvers, type checks, interfaces and unions, field middleware —
goes the generic way; so does a field whose value the direct way refuses (a null where the
schema says non-null, a value its scalar refuses), which then reports the error as usual.
"""

from __future__ import annotations

import functools
import operator
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from graphql import (
    FieldNode,
    GraphQLEnumType,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    Undefined,
)
from strawberry.types.field import StrawberryField

# How one response key is completed: (key; attribute reader, None for `__typename`; how to
# complete the value read, or the type's name for `__typename`; whether null is an error).
Entry = tuple[str, Callable[[Any], Any] | None, Any, bool]
Plan = tuple[Entry, ...]

# Entries kept per cache: each keeps its document's nodes (and, through their locations, all of
# its tokens: about 12 KiB) alive, so the least recently used go first. Shared documents are
# at most `documents.MAX_DOCUMENTS`, each with a few plans.
CACHE_LIMIT = 2_048

# What is derived from a parsed document, kept while that document is alive: key (ids of its
# nodes) -> (the nodes, the value).
Cache = OrderedDict[tuple[Any, ...], tuple[tuple[Any, ...], Any]]
_plans: Cache = OrderedDict()  # (type name, field nodes' ids) -> the plan for them, or None
_entries: Cache = OrderedDict()  # ("field", type name, key, its nodes' ids) -> entry, or None


def per_document(cache: Cache, key: tuple[Any, ...], nodes: tuple[Any, ...], make: Any) -> Any:
    """`make()` once per set of AST nodes. A document is shared while its text is in the parse
    cache (`app.graphql.documents`) and parsed anew after, so values are keyed by the nodes'
    ids; an entry keeps its nodes, so no other node takes their ids while it lives. The least
    recently used entry goes when the cache is full."""
    entry = cache.get(key)
    if entry is not None:
        cache.move_to_end(key)
        return entry[1]
    value = make()
    cache[key] = (nodes, value)
    if len(cache) > CACHE_LIMIT:
        cache.popitem(last=False)
    return value


def object_plan(return_type: GraphQLObjectType, nodes: tuple[FieldNode, ...]) -> Plan | None:
    """How to complete objects of this type with the nodes' selections; None: not plain."""
    key = (return_type.name, *map(id, nodes))
    plan: Plan | None = per_document(_plans, key, nodes, lambda: _build_plan(return_type, nodes))
    return plan


def field_entry(parent: GraphQLObjectType, key: str, nodes: tuple[FieldNode, ...]) -> Entry | None:
    """How to complete this response key of a `parent` object; None: not plain."""
    entry: Entry | None = per_document(
        _entries,
        ("field", parent.name, key, *map(id, nodes)),
        nodes,
        lambda: _entry(parent, key, nodes),
    )
    return entry


class NotPlain(Exception):
    """A value the direct way cannot complete as graphql-core would: the generic path does."""


def complete_plain(plan: Plan, result: Any) -> dict[str, Any] | None:
    """The object's response, or None to leave it to the generic path."""
    if result is None:
        return None
    try:
        return _object(plan, result)
    except Exception:
        return None


def value(entry: Entry, source: Any) -> Any:
    """The response value of one plain field of `source`; raises if the generic path must
    complete it (it reports the error, if any)."""
    _, read, complete, non_null = entry
    if read is None:  # `__typename`
        return complete
    return _completed(complete, non_null, read(source))


def _completed(complete: Callable[[Any], Any], non_null: bool, raw: Any) -> Any:
    """`raw` completed; raises where graphql-core would report an error."""
    if raw is None:
        if non_null:
            raise NotPlain
        return None
    done = complete(raw)
    if done is None or done is Undefined:
        raise NotPlain  # a scalar that serializes to nothing: an error, reported there
    return done


def _object(plan: Plan, source: Any) -> dict[str, Any]:
    return {entry[0]: value(entry, source) for entry in plan}


def _list(complete: Callable[[Any], Any], non_null: bool, values: Any) -> list[Any]:
    if not isinstance(values, list | tuple):
        raise NotPlain
    return [_completed(complete, non_null, item) for item in values]


def _build_plan(return_type: GraphQLObjectType, nodes: tuple[FieldNode, ...]) -> Plan | None:
    if return_type.is_type_of is not None:
        return None
    selected: dict[str, list[FieldNode]] = {}  # response key -> its nodes, merged
    for node in nodes:
        if node.selection_set is None:
            return None
        for selection in node.selection_set.selections:
            if not isinstance(selection, FieldNode):
                return None
            key = selection.alias.value if selection.alias else selection.name.value
            selected.setdefault(key, []).append(selection)
    plan: list[Entry] = []
    for key, fields in selected.items():
        entry = _entry(return_type, key, tuple(fields))
        if entry is None:
            return None
        plan.append(entry)
    return tuple(plan)


def _entry(parent: GraphQLObjectType, key: str, nodes: tuple[FieldNode, ...]) -> Entry | None:
    if any(node.arguments or node.directives for node in nodes):
        return None
    name = nodes[0].name.value
    if name == "__typename":
        return (key, None, parent.name, True)
    field = parent.fields.get(name)
    read = _attribute_reader(field) if field is not None else None
    if field is None or read is None:
        return None
    complete = _completer(field.type, nodes)
    if complete is None:
        return None
    return (key, read, complete, isinstance(field.type, GraphQLNonNull))


def _completer(type_: Any, nodes: tuple[FieldNode, ...]) -> Callable[[Any], Any] | None:
    """How to complete a value of this type with the nodes' selection, or None."""
    if isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    if isinstance(type_, GraphQLScalarType | GraphQLEnumType):
        return type_.serialize
    if isinstance(type_, GraphQLObjectType):
        plan = _build_plan(type_, nodes)
        return None if plan is None else functools.partial(_object, plan)
    if isinstance(type_, GraphQLList):
        item = _completer(type_.of_type, nodes)
        non_null = isinstance(type_.of_type, GraphQLNonNull)
        return None if item is None else functools.partial(_list, item, non_null)
    return None  # interfaces and unions: resolved by type


def _attribute_reader(field: GraphQLField) -> Callable[[Any], Any] | None:
    """How a field Strawberry resolves by reading an attribute reads it; None for others."""
    definition = (field.extensions or {}).get("strawberry-definition")
    if not (
        isinstance(definition, StrawberryField)
        and definition.is_basic_field
        and getattr(field.resolve, "_is_default", False)
    ):
        return None
    name, resolver = definition.python_name, definition.default_resolver
    if resolver is getattr:
        return operator.attrgetter(name)
    return lambda source: resolver(source, name)
