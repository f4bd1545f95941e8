"""What `walkai-jobs dev` does to keep a run's code away from the platform's own files.

Runs in `dev` are local processes. Started as root, `dev` runs every container but the
platform's own (its sidecar image) as the unprivileged user `walkai-run` (created if missing),
and closes the data directory to other users: the directory itself can be entered but not
listed (0711), and the database, the dev token, the kubeconfig and the local object store are
the owner's alone. The simulated cluster's pod directories under `cluster/` stay reachable, as
a container's own files must be. Started as another user, or with a data directory that other
users cannot reach (inside a private home such as `/root`), containers run as that same user,
and the banner says so. Either way the kubelet gives containers a scrubbed environment and a
directory of their own (app/sim/kubelet.py).

What `dev` does not isolate, said plainly in the README: runs from each other (every run's
working directory, logs and volumes are readable by `walkai-run`), the network (a run reaches
the API on localhost like any local process, with the credentials it was given), and the
machine's resources (no CPU, memory or GPU limits are enforced).
"""

from __future__ import annotations

import os
import pwd
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

from app.sim.runas import RunAsPolicy, image_name

RUN_USER = "walkai-run"
# Inside the data directory: what only the user running `dev` may read.
PRIVATE = ("walkai.db", "walkai.db-wal", "walkai.db-shm", "dev-token", "kubeconfig", "storage")


@dataclass(frozen=True)
class Isolation:
    """Who containers run as (None: the user running `dev`), and a line for the banner."""

    policy: RunAsPolicy | None
    summary: str


def reachable_by_others(path: Path) -> bool:
    """Whether every directory above `path` lets other users pass through (o+x)."""
    return all(p.stat().st_mode & stat.S_IXOTH for p in path.resolve().parents)


def ensure_user(name: str) -> None:
    """Create the unprivileged system user `name` unless it exists."""
    try:
        pwd.getpwnam(name)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
            check=True,
            capture_output=True,
        )


def close_data_dir(data_dir: Path) -> None:
    """Other users may enter the data directory (to reach pod directories) but not list it,
    and may read none of the platform's files in it."""
    data_dir.chmod(0o711)
    (data_dir / "storage").mkdir(exist_ok=True)
    for name in PRIVATE:
        path = data_dir / name
        if path.exists():
            path.chmod(0o700 if path.is_dir() else 0o600)


def isolate(data_dir: Path, sidecar_image: str) -> Isolation:
    """Set up what this machine allows; the banner tells the user which it was."""
    if os.geteuid() != 0:
        return Isolation(None, "containers run as you (start dev as root to run them apart)")
    if not reachable_by_others(data_dir):
        return Isolation(
            None,
            f"containers run as root: other users cannot reach {data_dir.resolve()} "
            "(use a --data-dir outside private homes, e.g. /var/lib/walkai-dev)",
        )
    ensure_user(RUN_USER)
    close_data_dir(data_dir)
    policy = RunAsPolicy(RUN_USER, {image_name(sidecar_image): "root"})
    return Isolation(policy, f"containers run as {RUN_USER}; the data directory is closed to it")
