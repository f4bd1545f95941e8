"""A cap on the bytes one response may carry: an HTTP result, or one websocket message.

The query cost budget bounds how many values an answer holds, not how long each is; this is
the backstop for what it cannot see (long texts, many long names). Every response and websocket
message is encoded in one place (`GraphQLApp.encode_json`), so it is checked there: an answer
over the cap is replaced by an error saying so, a subscription's event by a `next` message with
that error (the subscription goes on), and nothing over the cap is sent.
"""

from __future__ import annotations

from typing import Any

import orjson

from app.graphql.execution import encode_json

DEFAULT_MAX_RESPONSE_BYTES = 32 * 1024 * 1024
CODE = "RESPONSE_TOO_LARGE"


def _too_large(size: int, limit: int) -> dict[str, Any]:
    return {
        "data": None,
        "errors": [
            {
                "message": (
                    f"The response would be {size:,} bytes, over the limit of {limit:,} "
                    "(WALKAI_MAX_RESPONSE_BYTES). Ask for fewer items or fields."
                ),
                "extensions": {"code": CODE, "size": size, "limit": limit},
            }
        ],
    }


def encode_capped(data: object, limit: int) -> str:
    """The JSON text of a response or websocket message, or of its refusal if over `limit`."""
    text = encode_json(data)
    size = len(text.encode()) if len(text) * 4 > limit else len(text)
    if size <= limit:
        return text
    refusal = _too_large(size, limit)
    if isinstance(data, dict) and "payload" in data and "id" in data:
        # graphql-transport-ws `next`, legacy `data`: the same message, with the error instead.
        return orjson.dumps({**data, "payload": refusal}).decode()
    return orjson.dumps(refusal).decode()
