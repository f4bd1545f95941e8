"""Pid files of the kubelet's container processes, so that what a kubelet left behind when it
died without stopping its pods (SIGKILL, a crash) is ended on its next start.

Every container is its own process group (``start_new_session``), led by its first process.
A file ``<pid>.pid`` holds the leader's pid and start time (field 22 of ``/proc/<pid>/stat``):
a pid since given to another program does not match and is left alone. Linux reuses no pid
while a process group of that id still has members, so members of a group whose leader is gone
are still the container's own processes.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
from collections import defaultdict
from pathlib import Path

log = logging.getLogger(__name__)


def proc_stat(pid: int) -> tuple[int, int, str] | None:
    """(process group, start time in clock ticks, state) of a live process; None if absent."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (OSError, ValueError):
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its last ')'.
    fields = text.rsplit(")", 1)[1].split()
    return int(fields[2]), int(fields[19]), fields[0]


def _live_groups() -> dict[int, list[tuple[int, int]]]:
    """Every process group with its live members' (pid, start time); zombies are ended."""
    groups: defaultdict[int, list[tuple[int, int]]] = defaultdict(list)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        stat = proc_stat(int(entry.name))
        if stat is not None and stat[2] not in ("Z", "X"):
            groups[stat[0]].append((int(entry.name), stat[1]))
    return groups


class PidFiles:
    """One file per running container process group, in ``directory``."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def record(self, pid: int) -> None:
        """Remember the group `pid` leads (call it while the process is still unreaped)."""
        stat = proc_stat(pid)
        if stat is None:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{pid}.pid"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(f"{pid} {stat[1]}\n")
        tmp.replace(path)

    def forget(self, pid: int) -> None:
        """The group `pid` led is gone."""
        with contextlib.suppress(OSError):
            (self.directory / f"{pid}.pid").unlink()

    def reap(self, timeout: float = 10.0) -> list[int]:
        """SIGKILL every recorded group that is still there and wait until it is gone.

        Returns the pids of the groups that were killed; every pid file is removed.
        """
        if not self.directory.is_dir():
            return []
        groups = _live_groups()
        killed: list[int] = []
        for path in sorted(self.directory.glob("*.pid")):
            try:
                pid_text, start_text = path.read_text().split()
                pid, start = int(pid_text), int(start_text)
            except (OSError, ValueError):
                path.unlink(missing_ok=True)
                continue
            stat = proc_stat(pid)
            reused = stat is not None and stat[1] != start
            if pid in groups and not reused:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGKILL)
                killed.append(pid)
            path.unlink(missing_ok=True)
        deadline = time.monotonic() + timeout
        while killed and time.monotonic() < deadline:
            groups = _live_groups()
            if not any(pid in groups for pid in killed):
                break
            time.sleep(0.02)
        if killed:
            log.warning("ended %d container process group(s) left by a previous run", len(killed))
        return killed
