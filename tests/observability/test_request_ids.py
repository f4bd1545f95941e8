"""Every request has an id: given by the client or made up, returned, and in its log lines."""

from __future__ import annotations

import json
import logging

import httpx

from app.observability.logs import REQUEST_ID, JsonFormatter
from tests.support.api import Api


async def test_a_given_request_id_is_returned_and_a_missing_one_is_made(api: Api) -> None:
    async with httpx.AsyncClient() as client:
        given = await client.get(f"{api.base_url}/healthz", headers={"X-Request-Id": "abc-123"})
        made = await client.get(f"{api.base_url}/healthz")
        hostile = await client.get(f"{api.base_url}/healthz", headers={"X-Request-Id": "x" * 500})
    assert given.headers["x-request-id"] == "abc-123"
    assert len(made.headers["x-request-id"]) == 32
    assert len(hostile.headers["x-request-id"]) == 32, "an over-long id is replaced"


def test_json_lines_carry_the_request_id_and_extras() -> None:
    record = logging.makeLogRecord(
        {"name": "walkai.test", "levelname": "INFO", "msg": "run %s", "args": ("r1",)}
    )
    record.operation = "JobsList"
    token = REQUEST_ID.set("req-1")
    try:
        line = json.loads(JsonFormatter().format(record))
    finally:
        REQUEST_ID.reset(token)
    assert line["message"] == "run r1" and line["level"] == "info"
    assert line["request_id"] == "req-1" and line["operation"] == "JobsList"
    assert line["logger"] == "walkai.test" and line["time"].endswith("+00:00")
