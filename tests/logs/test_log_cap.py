"""A run's stored log is capped: the cut is marked, later lines are dropped, the run goes on."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.db.log_models import LogLine
from app.services.logs.cap import cut_notice
from tests.logs.conftest import (
    download,
    expected,
    follow_logs,
    lines_of,
    printing,
    start_run,
    wait_status,
)
from tests.support.api import Api
from tests.support.graphql import node_uuid

CAP = 50


@pytest.fixture
def small_cap(api: Api) -> Iterator[None]:
    logs = api.platform.logs
    saved, logs.max_lines = logs.max_lines, CAP
    try:
        yield
    finally:
        logs.max_lines = saved


async def test_a_run_printing_past_the_cap_stores_up_to_it_and_says_so(
    api: Api, small_cap: None
) -> None:
    run_id = await start_run(api, printing(400, width=3))
    batches = await follow_logs(api, run_id)  # completes: the log is whole and archived
    texts = [line["text"] for line in lines_of(batches)]
    # Printed lines up to the cut, in order, then the one line that marks it.
    assert texts[-1] == cut_notice(CAP)
    assert texts[:-1] == expected(400, width=3)[: len(texts) - 1]
    assert await LogLine.filter(run_id=node_uuid(run_id)).count() == CAP
    # The pod ran to its end; the archive holds what was stored.
    assert (await wait_status(api, run_id, "COMPLETED", "FAILED"))["status"] == "COMPLETED"
    archived = [line.split(" ", 1)[1] for line in (await download(api, run_id)).splitlines()]
    assert archived == texts
