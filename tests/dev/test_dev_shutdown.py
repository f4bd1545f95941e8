"""Stopping `walkai-jobs dev` ends every process it started, and its runs say what happened."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from app.sim.runs import NODE_SHUTDOWN
from tests.dev.devprocess import Dev, processes_of


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_stopping_dev_ends_its_containers_and_fails_their_runs(
    tmp_path: Path, sig: signal.Signals
) -> None:
    dev = await Dev.start(tmp_path)
    try:
        run_id = await dev.submit_sleeping_job()
        sleepers = processes_of(tmp_path, besides=dev.process.pid)
        assert any("sleep 300" in cmdline for cmdline in sleepers.values()), sleepers
    finally:
        code = await dev.stop(sig)
    assert code == 0
    # Nothing it started is left once the command has returned.
    assert processes_of(tmp_path) == {}

    again = await Dev.start(tmp_path)
    try:
        run = await again.run(run_id)
        assert (run["status"], run["reason"]) == ("FAILED", NODE_SHUTDOWN)
        assert "dev stopped" in run["message"]
    finally:
        await again.stop()


async def test_a_killed_dev_is_cleaned_up_on_its_next_start(tmp_path: Path) -> None:
    dev = await Dev.start(tmp_path)
    try:
        run_id = await dev.submit_sleeping_job()
    finally:
        await dev.stop(signal.SIGKILL)
    left = processes_of(tmp_path)
    assert any("sleep 300" in cmdline for cmdline in left.values()), left

    again = await Dev.start(tmp_path)
    try:
        # The old containers were ended before the new `dev` started anything.
        assert not set(left) & set(processes_of(tmp_path, besides=again.process.pid))
        run = await again.run(run_id)
        assert (run["status"], run["reason"]) == ("FAILED", NODE_SHUTDOWN)
        assert "killed or crashed" in run["message"]
    finally:
        await again.stop()
    assert processes_of(tmp_path) == {}
