"""The in-memory window of recent batches: where late and lagged subscribers catch up."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from app.services.logs import LogBatch, StoredLine, _RunLog, publish
from tests.logs.conftest import expected, printing, start_run, wait_status
from tests.support.api import Api
from tests.support.graphql import node_uuid


def _batch(first: int, size: int) -> LogBatch:
    return LogBatch(
        "run",
        [StoredLine(seq, "main", 1, "ts", f"line {seq}") for seq in range(first, first + size)],
    )


def test_the_window_answers_cursors_it_reaches_and_only_those(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(publish, "WINDOW_LINES", 250)
    run = _RunLog(next_seq=0)
    batches = [_batch(1 + 100 * i, 100) for i in range(5)]  # seq 1..500
    for batch in batches:
        run.remember(batch)
    run.next_seq = 501
    # Lines 1..300 were forgotten (at most 250 kept, whole batches): those are in the database.
    assert run.since(0) is None
    assert run.since(299) is None
    # From the window: the very batches published (shared), the first one trimmed by the caller.
    assert run.since(300) == batches[3:]
    assert run.since(350) == batches[3:]
    assert run.since(400) == batches[4:]
    assert run.since(500) == []
    run.forget()
    assert run.since(400) is None
    assert run.since(500) == []  # nothing was published after the head


async def test_a_lagged_subscriber_catches_up_from_memory_and_misses_nothing(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    logs = api.platform.logs
    run_id = await start_run(api, printing(1500, sleep=0.001))
    await wait_status(api, run_id, "RUNNING", "COMPLETED")
    reads: list[Any] = []
    lines = logs.lines

    async def counted(*args: Any, **kwargs: Any) -> Any:
        reads.append(kwargs)
        return await lines(*args, **kwargs)

    # A one-batch buffer and a slow reader: it falls behind again and again.
    monkeypatch.setattr(logs, "buffer", 1)
    seen: list[StoredLine] = []
    lagged = 0
    async with asyncio.timeout(90):
        async for batch in logs.follow(node_uuid(run_id), container="main"):
            if not seen:
                monkeypatch.setattr(logs, "lines", counted)  # from here on: catching up only
            seen.extend(batch.lines)
            lagged += batch.lagged
            await asyncio.sleep(0.05)
    assert [line.text for line in seen] == expected(1500)
    assert [line.seq for line in seen] == sorted({line.seq for line in seen})
    assert lagged > 0, "the subscriber fell behind"
    # Catching up came from the window (1,500 lines fit), not from the database: at most one
    # read, once the log was complete (and the window let go).
    assert len([read for read in reads if "limit" not in read]) <= 1, reads
