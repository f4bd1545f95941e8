"""Which host user a container's processes run as.

A real container runs as its `securityContext.runAsUser`/`runAsGroup` (the container's, else
the pod's), else as its image's `USER`. The simulated kubelet does the same with host users
when it runs as root and a `RunAsPolicy` is given: `image_users` stands for images' `USER`
(image name without tag -> a user name), and `default_user` is the user of every other image.
Without a policy, or when the kubelet is not root (it could not switch), every container runs
as the kubelet's own user, as before.

`walkai-jobs dev` uses this to keep a run's code away from the data directory: the platform's
own containers (its sidecar image) run as the user who started `dev`, everything else as an
unprivileged user (see app/dev_isolation.py).
"""

from __future__ import annotations

import os
import pwd
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class RunAsPolicy:
    """Users for containers: per image (its `USER`), else `default_user`."""

    default_user: str
    image_users: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RunAs:
    """A host user and group to start a container's processes as."""

    uid: int
    gid: int
    home: str


def image_name(image: str) -> str:
    """An image reference without its tag or digest (`ghcr.io/x/y:1.2` -> `ghcr.io/x/y`)."""
    image = image.split("@", 1)[0]
    slash = image.rfind("/")
    colon = image.rfind(":")
    return image[:colon] if colon > slash else image


def _user(name_or_id: str | int) -> RunAs:
    entry = pwd.getpwuid(name_or_id) if isinstance(name_or_id, int) else pwd.getpwnam(name_or_id)
    return RunAs(entry.pw_uid, entry.pw_gid, entry.pw_dir)


def run_as(
    policy: RunAsPolicy | None, pod: Mapping[str, Any], container: Mapping[str, Any]
) -> RunAs | None:
    """The user `container` of `pod` runs as; None: the kubelet's own."""
    if policy is None or os.geteuid() != 0:
        return None
    pod_context = (pod.get("spec") or {}).get("securityContext") or {}
    own_context = container.get("securityContext") or {}
    uid = own_context.get("runAsUser", pod_context.get("runAsUser"))
    gid = own_context.get("runAsGroup", pod_context.get("runAsGroup"))
    if uid is not None:
        try:
            found = _user(int(uid))
            return RunAs(found.uid, int(gid) if gid is not None else found.gid, found.home)
        except KeyError:  # a uid with no passwd entry, as containers often have
            return RunAs(int(uid), int(gid) if gid is not None else int(uid), "/")
    name = policy.image_users.get(image_name(str(container.get("image", ""))))
    user = _user(name or policy.default_user)
    if user.uid == os.geteuid():
        return None
    return RunAs(user.uid, int(gid) if gid is not None else user.gid, user.home)


def hand_over(path: Path, user: RunAs | None) -> None:
    """Make `path` (a container's own directory) the user's."""
    if user is not None:
        os.chown(path, user.uid, user.gid)


def become(user: RunAs) -> Callable[[], None]:
    """What the child runs before exec to drop to `user` (the event loop's subprocess API takes
    no user arguments): no supplementary groups, then the group, then the user."""

    def switch() -> None:
        os.setgroups([])
        os.setgid(user.gid)
        os.setuid(user.uid)
        os.umask(0o022)

    return switch
