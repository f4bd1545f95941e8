"""`start_now`: a websocket send run on the spot, and finished in a task only if it must wait.

Live log lines reach most subscribers this way (app.graphql.streaming); a send that waits for a
full connection must still complete, fail or be cancelled exactly as it would in a task of its
own, and everything it did before waiting must already be done.
"""

from __future__ import annotations

import asyncio

import pytest

from app.graphql.streaming import start_now


async def test_a_coroutine_that_does_not_wait_is_done_on_return() -> None:
    done: list[str] = []

    async def send() -> None:
        done.append("sent")

    assert start_now(send()) is None
    assert done == ["sent"]


async def test_one_that_waits_did_its_first_part_and_its_task_does_the_rest() -> None:
    steps: list[str] = []
    writable = asyncio.Event()

    async def send() -> None:
        steps.append("queued")
        await writable.wait()
        steps.append("written")
        await asyncio.sleep(0)  # a bare yield to the loop
        steps.append("drained")

    task = start_now(send())
    assert task is not None and steps == ["queued"]
    await asyncio.sleep(0.01)
    assert steps == ["queued"] and not task.done()
    writable.set()
    await asyncio.wait_for(task, 5)
    assert steps == ["queued", "written", "drained"]


async def test_errors_come_out_where_they_would_have() -> None:
    async def refused() -> None:
        raise ConnectionResetError("at once")

    with pytest.raises(ConnectionResetError, match="at once"):
        start_now(refused())

    failed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def later() -> None:
        await failed  # the connection fails while the message waits

    task = start_now(later())
    assert task is not None
    failed.set_exception(ConnectionResetError("while waiting"))
    with pytest.raises(ConnectionResetError, match="while waiting"):
        await asyncio.wait_for(task, 5)


async def test_cancelling_its_task_cancels_the_coroutine_where_it_waits() -> None:
    cleaned: list[str] = []
    never = asyncio.Event()

    async def send() -> None:
        try:
            await never.wait()
        finally:
            cleaned.append("cleaned up")

    task = start_now(send())
    assert task is not None
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cleaned == ["cleaned up"]


async def test_cancelled_before_it_ran_the_coroutine_still_ends() -> None:
    ended: list[str] = []
    never = asyncio.Event()

    async def send() -> None:
        try:
            await never.wait()
        finally:
            ended.append("ended")

    task = start_now(send())
    assert task is not None
    task.cancel()  # before the loop ever ran it
    with pytest.raises(asyncio.CancelledError):
        await task
    assert ended == ["ended"]
