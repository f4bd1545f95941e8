"""A run in `dev` is a local process: started as root, `dev` runs it as another user that cannot
read the data directory (the admin token, the database, the object store), with a scrubbed
environment, while the platform's own sidecars still fetch and upload its files."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from app.dev_isolation import RUN_USER, isolate
from tests.api.operations import CREATE_JOB, job_input
from tests.dev.devprocess import Dev, poll

NEEDS_ROOT = pytest.mark.skipif(os.geteuid() != 0, reason="switching users needs root")

PROBE = """
echo "uid=$(id -u)"
cat "$D/dev-token" || echo TOKEN-REFUSED
head -c 16 "$D/walkai.db" || echo DATABASE-REFUSED
ls "$D" || echo LISTING-REFUSED
ls "$D/storage" || echo STORAGE-REFUSED
env | cut -d= -f1 | sort | tr '\\n' ' '; echo
echo kept > "$WALKAI_OUTPUT_DIR/result.txt"
"""

RESULT = """
query($id: ID!) {
  run(id: $id) {
    status outputsStatus { status }
    logs(first: 50) { edges { node { text } } }
    artifacts(first: 5) { edges { node { path } } }
  }
}"""


@NEEDS_ROOT
async def test_a_run_in_dev_cannot_read_the_data_directory() -> None:
    # Under /tmp, which every user may pass through (pytest's own temporary root is private).
    data = Path(tempfile.mkdtemp(prefix="walkai-dev-isolation-", dir="/tmp"))
    dev = await Dev.start(data)
    try:
        command = ["sh", "-c", PROBE]
        job = job_input(command=command, env=[{"name": "D", "value": str(data)}])
        run_id = (await dev.gql(CREATE_JOB, {"input": job}))["createJob"]["run"]["id"]

        async def settled() -> dict | None:
            run = (await dev.gql(RESULT, {"id": run_id}))["run"]
            done = run["outputsStatus"]["status"] in ("UPLOADED", "FAILED")
            return run if done and run["logs"]["edges"] else None

        run = await poll(settled, timeout=60)
        lines = [edge["node"]["text"] for edge in run["logs"]["edges"]]
        token = (data / "dev-token").read_text().strip()
        assert run["status"] == "COMPLETED", lines
        assert lines[0] != "uid=0" and lines[0].startswith("uid="), lines
        for refused in ("TOKEN", "DATABASE", "LISTING", "STORAGE"):
            assert f"{refused}-REFUSED" in lines, lines
        assert not any(token in line for line in lines)
        # The environment is the pod's, not the API's (`dev` itself has WALKAI_DATABASE_URL).
        names = next(line for line in lines if " PATH " in f" {line} ").split()
        assert {"WALKAI_RUN_ID", "WALKAI_OUTPUT_DIR", "D"} <= set(names), names
        assert not {"WALKAI_DATABASE_URL", "WALKAI_RUN_TOKEN"} & set(names), names
        # What it wrote was still uploaded by the platform's sidecar.
        assert run["outputsStatus"]["status"] == "UPLOADED"
        assert [e["node"]["path"] for e in run["artifacts"]["edges"]] == ["result.txt"]
    finally:
        await dev.stop()
        shutil.rmtree(data, ignore_errors=True)


def test_a_data_directory_other_users_cannot_reach_keeps_containers_as_the_caller(
    tmp_path: Path,
) -> None:
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    isolation = isolate(private / "data", "ghcr.io/walkai/jobs-api:latest")
    assert isolation.policy is None
    assert RUN_USER not in isolation.summary
