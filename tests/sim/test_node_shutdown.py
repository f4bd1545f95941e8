"""Node shutdown: pods stop within a capped grace period, and a new kubelet ends what a killed
one left behind (pid files with start times)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.sim.nodes import default_config
from app.sim.pidfiles import PidFiles, proc_stat
from tests.sim.conftest_controllers import running_sim

if TYPE_CHECKING:
    from tests.sim.conftest_controllers import Sim

LOOP = "while true; do sleep 0.05; done"


def _pod(name: str, script: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 600,
            "containers": [{"name": "main", "image": "busybox", "command": ["sh", "-c", script]}],
        },
    }


def _alive(pid: int) -> bool:
    stat = proc_stat(pid)
    return stat is not None and stat[2] not in ("Z", "X")


def _group_alive(pgid: int) -> bool:
    return any(
        (stat := proc_stat(int(p.name))) is not None and stat[0] == pgid and stat[2] != "Z"
        for p in Path("/proc").iterdir()
        if p.name.isdigit()
    )


async def test_node_shutdown_caps_the_grace_period_and_leaves_pods_failed(sim: Sim) -> None:
    sim.store.create("pods", "default", _pod("polite", f"trap 'exit 0' TERM; {LOOP}"))
    sim.store.create("pods", "default", _pod("stubborn", f"trap '' TERM; {LOOP}"))
    kubelet = sim.controllers.kubelet
    await sim.wait_for(lambda: len(kubelet.processes) == 2)
    pids = [process.pid for process in kubelet.processes]
    assert len(list(kubelet.pids.directory.glob("*.pid"))) == 2

    await sim.controllers.stop(grace=0.5)

    assert not any(_group_alive(pid) for pid in pids)
    assert list(kubelet.pids.directory.glob("*.pid")) == []
    codes = {}
    for name in ("polite", "stubborn"):
        status = sim.store.get("pods", "default", name)["status"]
        assert (status["phase"], status["reason"]) == ("Failed", "Terminated")
        assert "node shutdown" in status["message"]
        codes[name] = status["containerStatuses"][0]["state"]["terminated"]["exitCode"]
    # 600 s of grace were cut to 0.5 s: the pod that ignores SIGTERM got SIGKILL.
    assert codes == {"polite": 0, "stubborn": 137}


async def test_reap_kills_a_recorded_group_even_without_its_leader(tmp_path: Path) -> None:
    leader = subprocess.Popen(
        ["sh", "-c", "sleep 300 & echo $!; exit 0"],
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    pid_files = PidFiles(tmp_path / "pids")
    pid_files.record(leader.pid)
    assert leader.stdout is not None
    child = int(leader.stdout.readline())
    leader.wait()
    assert _alive(child)

    assert pid_files.reap() == [leader.pid]
    assert not _alive(child)
    assert list(pid_files.directory.iterdir()) == []


async def test_reap_spares_a_pid_now_used_by_another_process(tmp_path: Path) -> None:
    other = subprocess.Popen(["sleep", "300"], start_new_session=True)
    try:
        pid_files = PidFiles(tmp_path / "pids")
        pid_files.directory.mkdir()
        stat = proc_stat(other.pid)
        assert stat is not None
        # Recorded for a process that started earlier and had the same pid.
        (pid_files.directory / f"{other.pid}.pid").write_text(f"{other.pid} {stat[1] - 1}\n")
        assert pid_files.reap() == []
        assert other.poll() is None
    finally:
        other.kill()
        other.wait()


async def test_a_new_kubelet_ends_what_a_killed_one_left(tmp_path: Path) -> None:
    workdir = tmp_path / "sim"
    left = await asyncio.create_subprocess_exec("sleep", "300", start_new_session=True)
    PidFiles(workdir / "pids").record(left.pid)
    try:
        async with running_sim(tmp_path, default_config()):
            assert await asyncio.wait_for(left.wait(), timeout=10) == -signal.SIGKILL
    finally:
        if left.returncode is None:
            os.killpg(left.pid, signal.SIGKILL)
            await left.wait()
