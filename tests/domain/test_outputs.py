"""Table tests: a run's outputs status from the sidecar's state and manifest; credential life."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.domain.outputs import (
    ManifestSummary,
    OutputsStatus,
    credential_valid,
    derive_outputs,
    sidecar_state,
)

RUNNING = {"running": {"startedAt": "2026-01-01T00:00:00Z"}}
WAITING = {"waiting": {"reason": "PodInitializing"}}


def terminated(code: int) -> dict[str, Any]:
    return {"terminated": {"exitCode": code, "reason": "Completed" if code == 0 else "Error"}}


CASES = [
    # (run finished, sidecar state, manifest, main container ran) -> status
    (False, None, None, True, OutputsStatus.PENDING),
    (False, WAITING, None, True, OutputsStatus.PENDING),
    (False, RUNNING, None, True, OutputsStatus.PENDING),
    (True, RUNNING, None, True, OutputsStatus.UPLOADING),
    (True, RUNNING, ManifestSummary(3, 10, 0), True, OutputsStatus.UPLOADED),
    (True, terminated(0), ManifestSummary(3, 10, 0), True, OutputsStatus.UPLOADED),
    (True, terminated(1), ManifestSummary(3, 10, 1), True, OutputsStatus.FAILED),
    (True, terminated(137), None, True, OutputsStatus.FAILED),
    (True, terminated(1), None, True, OutputsStatus.FAILED),
    # The pod failed before the sidecar (or anything) started.
    (True, WAITING, None, False, OutputsStatus.FAILED),
    # The sidecar restarts (restartPolicy Always) after the main container ended.
    (True, WAITING, None, True, OutputsStatus.UPLOADING),
    (True, None, None, True, OutputsStatus.FAILED),  # pod gone, nothing uploaded
    (True, None, ManifestSummary(0, 0, 0), True, OutputsStatus.UPLOADED),  # pod gone since
    # Ended before any pod ran (cancelled in the queue): no outputs, and no failure.
    (True, None, None, False, OutputsStatus.NONE),
    (True, None, ManifestSummary(0, 0, 0), False, OutputsStatus.UPLOADED),
]


@pytest.mark.parametrize(("finished", "sidecar", "manifest", "ran", "expected"), CASES)
def test_outputs_status(
    finished: bool,
    sidecar: dict[str, Any] | None,
    manifest: ManifestSummary | None,
    ran: bool,
    expected: OutputsStatus,
) -> None:
    assert derive_outputs(finished, sidecar, manifest, ran=ran).status is expected
    assert expected.settled is (expected not in (OutputsStatus.PENDING, OutputsStatus.UPLOADING))


def test_messages_say_what_happened() -> None:
    assert derive_outputs(True, None, ManifestSummary(2, 5, 0)).message == "2 file(s), 5 bytes."
    assert "killed" in (derive_outputs(True, terminated(137), None).message or "")
    assert "1 file(s) could not" in (
        derive_outputs(True, None, ManifestSummary(2, 5, 1)).message or ""
    )


def test_the_sidecar_is_found_among_init_containers() -> None:
    pod = {
        "status": {
            "initContainerStatuses": [
                {"name": "inputs", "state": terminated(0)},
                {"name": "outputs", "state": RUNNING},
            ],
            "containerStatuses": [{"name": "main", "state": terminated(0)}],
        }
    }
    assert sidecar_state(pod) == RUNNING
    assert sidecar_state({"status": {}}) is None
    assert sidecar_state(None) is None


NOW = datetime(2026, 1, 1, tzinfo=UTC)
GRACE = timedelta(minutes=10)


@pytest.mark.parametrize(
    ("finished_at", "finished", "valid"),
    [
        (None, False, True),  # however long the run has been going
        (NOW - timedelta(days=30), False, True),  # a stale finish time means nothing while running
        (NOW - timedelta(minutes=5), True, True),
        (NOW - timedelta(minutes=11), True, False),
        (None, True, False),
    ],
)
def test_credential_life(finished_at: datetime | None, finished: bool, valid: bool) -> None:
    assert credential_valid(finished_at, finished, NOW, GRACE) is valid
