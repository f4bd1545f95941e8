"""JSON that clients send, parsed strictly: valid UTF-8, and nesting within bounds.

The standard library's `json.loads` raises `UnicodeDecodeError` on invalid UTF-8 and
`RecursionError` on deep nesting, neither of which a handler expecting bad JSON catches, and
code that walks a parsed value recursively (the NUL guard, GraphQL's input coercion) meets the
interpreter's recursion limit further on. orjson refuses invalid UTF-8, lone surrogates and
nesting past 1024 levels as a `JSONDecodeError`; the depth is then bounded far lower, with a
loop rather than recursion.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

#: Deepest nesting accepted: far beyond any real request, far below the recursion limit.
MAX_DEPTH = 64
_TOO_DEEP = "The JSON nests arrays and objects deeper than {} levels."


class MalformedJSON(json.JSONDecodeError):
    """The client's JSON cannot be used; `str()` is a reason fit to show to the client."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, "", 0)

    def __str__(self) -> str:
        return self.msg


def loads(data: str | bytes, max_depth: int = MAX_DEPTH) -> Any:
    """The parsed value, or `MalformedJSON` saying what is wrong with it."""
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        if "UTF-8" in exc.msg or "surrogate" in exc.msg:
            raise MalformedJSON("The JSON is not valid UTF-8 text.") from None
        if "depth" in exc.msg:
            raise MalformedJSON(_TOO_DEEP.format(max_depth)) from None
        raise MalformedJSON(f"Invalid JSON: {exc.msg} (at character {exc.pos}).") from None
    if too_deep(value, max_depth):
        raise MalformedJSON(_TOO_DEEP.format(max_depth))
    return value


def too_deep(value: Any, max_depth: int) -> bool:
    """Whether arrays and objects in `value` nest deeper than `max_depth`."""
    if not isinstance(value, dict | list):
        return False
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > max_depth:
            return True
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False
