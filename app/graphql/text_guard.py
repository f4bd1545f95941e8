"""Refuse text containing NUL (U+0000) before anything runs.

No name, key, value or message of ours may hold it, PostgreSQL text cannot store it, and it is
not a mistake of one field but of the encoding, so it is refused for the whole operation with a
client error that names the argument (like any other invalid input value), never by the database.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import ExecutionResult, GraphQLError, StringValueNode, visit
from graphql.language import Visitor
from strawberry.extensions import SchemaExtension

NUL = "\x00"
CODE = "BAD_USER_INPUT"


def _nul_paths(value: Any, path: str) -> Iterator[str]:
    if isinstance(value, str):
        if NUL in value:
            yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _nul_paths(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _nul_paths(item, f"{path}.{index}")


class _LiteralFinder(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.found = False

    def enter_string_value(self, node: StringValueNode, *_: Any) -> None:
        if NUL in node.value:
            self.found = True


class RejectNulText(SchemaExtension):
    """Answers an operation whose variables or literals hold NUL with one input error."""

    def on_execute(self) -> Iterator[None]:
        ctx = self.execution_context
        paths = [p for name, v in (ctx.variables or {}).items() for p in _nul_paths(v, f"${name}")]
        if not paths and ctx.graphql_document is not None:
            finder = _LiteralFinder()
            visit(ctx.graphql_document, finder)
            if finder.found:
                paths = ["a string literal"]
        if paths:
            message = f"Text may not contain NUL (U+0000) characters: {', '.join(paths)}."
            ctx.result = ExecutionResult(
                data=None, errors=[GraphQLError(message, extensions={"code": CODE})]
            )
        yield
