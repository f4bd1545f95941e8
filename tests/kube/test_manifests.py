"""The run's Kubernetes Job, compared with reviewed golden files (UPDATE_GOLDEN=1 rewrites them)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from app.domain.jobspec import EnvVar, JobSpec
from app.domain.priority import Priority
from app.kube.manifests import ManifestSettings, RunRef, run_job

GOLDEN = Path(__file__).parent / "golden"
REF = RunRef(
    job_id="0b7c2a4e-1d2f-4e5a-9b8c-7d6e5f4a3b2c",
    run_id="9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a",
    number=1,
)
SPEC = JobSpec(
    name="train",
    image="ghcr.io/acme/train:v1",
    gpu="3g.40gb",
    storage_gi=20,
    command=("python", "train.py"),
    args=("--epochs", "3"),
    env=(EnvVar("LR", "0.1"),),
    priority=Priority.HIGH,
)

CASES = {
    "ephemeral": (
        SPEC,
        ManifestSettings(namespace="walkai", storage_class="fast", service_account="walkai-run"),
    ),
    "emptydir_minimal": (
        JobSpec(name="python", image="python:3.11", gpu="1g.10gb", storage_gi=1),
        ManifestSettings(
            namespace="jobs", output_volume="emptyDir", gpu_resource_prefix="nvidia.com/"
        ),
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_manifest_matches_golden(case: str) -> None:
    spec, settings = CASES[case]
    manifest = run_job(spec, REF, settings)
    path = GOLDEN / f"{case}.json"
    rendered = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(rendered)
    assert rendered == path.read_text()


def test_the_mapping_users_rely_on() -> None:
    manifest = run_job(SPEC, REF, CASES["ephemeral"][1])
    pod = manifest["spec"]["template"]["spec"]
    (main,) = pod["containers"]
    assert manifest["metadata"]["name"] == "run-9f8e7d6c5b4a439281706f5e4d3c2b1a"
    assert len(manifest["metadata"]["name"]) <= 63
    assert manifest["spec"]["backoffLimit"] == 0
    assert main["resources"]["limits"] == {"nvidia.com/mig-3g.40gb": 1}
    assert pod["priorityClassName"] == "walkai-high"
    assert pod["restartPolicy"] == "Never"
    env = {e["name"]: e["value"] for e in main["env"]}
    assert env["LR"] == "0.1" and env["WALKAI_RUN_ID"] == REF.run_id
    storage = pod["volumes"][0]["ephemeral"]["volumeClaimTemplate"]["spec"]
    assert storage["resources"]["requests"]["storage"] == "20Gi"
    labels = manifest["spec"]["template"]["metadata"]["labels"]
    assert labels["walkai.io/run-id"] == REF.run_id and labels["walkai.io/job-id"] == REF.job_id
