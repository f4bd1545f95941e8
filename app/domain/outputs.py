"""Whether a run's outputs are safe in object storage, and how long its credential lives.

The upload sidecar (a native sidecar container, `walkai-jobs sidecar upload`) starts with the
pod, waits for the main container to end, uploads the output directory, writes a manifest
and exits 0 — or non-zero when a file could not be uploaded. What the platform sees of that:
the sidecar's container state in the pod, and the manifest object once written. Both are
read here, by pure rules.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

SIDECAR_CONTAINER = "outputs"
INPUTS_CONTAINER = "inputs"


class OutputsStatus(enum.Enum):
    """Where a run's outputs are."""

    PENDING = "PENDING"
    UPLOADING = "UPLOADING"
    UPLOADED = "UPLOADED"
    FAILED = "FAILED"
    NONE = "NONE"

    @property
    def settled(self) -> bool:
        """True once nothing more will be uploaded: a client waiting for the end may list."""
        return self in SETTLED


SETTLED = frozenset({OutputsStatus.UPLOADED, OutputsStatus.FAILED, OutputsStatus.NONE})


@dataclass(frozen=True)
class ManifestSummary:
    """What the sidecar's manifest says it did."""

    files: int
    bytes: int
    failed: int


@dataclass(frozen=True)
class OutputsState:
    """The status and a sentence for a person."""

    status: OutputsStatus
    message: str | None = None
    # Bytes the manifest says were uploaded (what the run's outputs take in storage).
    bytes: int = 0


def sidecar_state(pod: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """The upload sidecar's container state in a pod (native sidecars are init containers)."""
    if pod is None:
        return None
    for cs in pod.get("status", {}).get("initContainerStatuses") or ():
        if cs.get("name") == SIDECAR_CONTAINER:
            state: Mapping[str, Any] = cs.get("state") or {}
            return state
    return None


def derive_outputs(
    run_finished: bool,
    sidecar: Mapping[str, Any] | None,
    manifest: ManifestSummary | None,
    *,
    ran: bool = True,
) -> OutputsState:
    """The outputs' status from the run, its upload sidecar's state and the manifest.

    The manifest is the sidecar's last act, so it wins over a container state that has not
    caught up; a sidecar that ended without one was killed or crashed mid-upload. A run that
    ended before its pod ever ran (`ran` False: cancelled in the queue, refused by the cluster)
    has no outputs, which is not a failure.
    """
    if manifest is not None:
        if manifest.failed:
            return OutputsState(
                OutputsStatus.FAILED,
                f"{manifest.failed} file(s) could not be uploaded; {manifest.files} were.",
                manifest.bytes,
            )
        return OutputsState(
            OutputsStatus.UPLOADED,
            f"{manifest.files} file(s), {manifest.bytes} bytes.",
            manifest.bytes,
        )
    terminated = (sidecar or {}).get("terminated")
    if terminated is not None:
        code = terminated.get("exitCode")
        if code == 137:
            return OutputsState(
                OutputsStatus.FAILED, "The upload was killed before it ended (exit code 137)."
            )
        return OutputsState(
            OutputsStatus.FAILED,
            f"The upload ended without a manifest (exit code {code}).",
        )
    if run_finished:
        if sidecar is not None and "running" in sidecar:
            return OutputsState(OutputsStatus.UPLOADING, "Uploading the output directory.")
        if sidecar is not None and "waiting" in sidecar and ran:
            return OutputsState(OutputsStatus.UPLOADING, "The upload is about to start.")
        if not ran and not sidecar:
            return OutputsState(OutputsStatus.NONE, "The run ended before it started.")
        return OutputsState(OutputsStatus.FAILED, "The run ended and no outputs were uploaded.")
    return OutputsState(OutputsStatus.PENDING, "Outputs are uploaded when the main container ends.")


def credential_valid(
    run_finished_at: datetime | None, run_finished: bool, now: datetime, grace: timedelta
) -> bool:
    """Whether a run's credential still works.

    It has no deadline while the run goes on — however long the job — and lasts `grace`
    after the run ends, for the sidecar's upload; then it is dead for good.
    """
    if not run_finished:
        return True
    if run_finished_at is None:
        return False
    return now <= run_finished_at + grace
