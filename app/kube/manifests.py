"""The Kubernetes objects of a run, built by pure functions (golden-tested)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.domain.gpu import resource_name
from app.domain.jobspec import JobSpec
from app.domain.priority import priority_class_name
from app.domain.status import MAIN_CONTAINER
from app.kube.labels import JOB_ID, MANAGED_BY, MANAGER, RUN_ID, RUN_NUMBER, kube_job_name

OUTPUT_DIR = "/walkai/output"
INPUT_DIR = "/walkai/inputs"
OUTPUT_VOLUME = "output"


@dataclass(frozen=True)
class ManifestSettings:
    """The cluster-specific choices a manifest depends on (from configuration)."""

    namespace: str
    gpu_resource_prefix: str = "nvidia.com/mig-"
    output_volume: str = "ephemeral"  # or "emptyDir"
    storage_class: str | None = None


@dataclass(frozen=True)
class RunRef:
    """Which run a manifest is for."""

    job_id: str
    run_id: str
    number: int


def _labels(ref: RunRef) -> dict[str, str]:
    return {MANAGED_BY: MANAGER, JOB_ID: ref.job_id, RUN_ID: ref.run_id}


def _output_volume(spec: JobSpec, settings: ManifestSettings) -> dict[str, Any]:
    size = f"{spec.storage_gi}Gi"
    if settings.output_volume == "emptyDir":
        return {"name": OUTPUT_VOLUME, "emptyDir": {"sizeLimit": size}}
    claim: dict[str, Any] = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": size}},
    }
    if settings.storage_class:
        claim["storageClassName"] = settings.storage_class
    return {"name": OUTPUT_VOLUME, "ephemeral": {"volumeClaimTemplate": {"spec": claim}}}


def _main_container(spec: JobSpec, ref: RunRef, settings: ManifestSettings) -> dict[str, Any]:
    env = [{"name": var.name, "value": var.value} for var in spec.env]
    env += [
        {"name": "WALKAI_OUTPUT_DIR", "value": OUTPUT_DIR},
        {"name": "WALKAI_INPUT_DIR", "value": INPUT_DIR},
        {"name": "WALKAI_RUN_ID", "value": ref.run_id},
    ]
    container: dict[str, Any] = {
        "name": MAIN_CONTAINER,
        "image": spec.image,
        "env": env,
        "resources": {"limits": {resource_name(settings.gpu_resource_prefix, spec.gpu): 1}},
        "volumeMounts": [{"name": OUTPUT_VOLUME, "mountPath": OUTPUT_DIR}],
    }
    if spec.command:
        container["command"] = list(spec.command)
    if spec.args:
        container["args"] = list(spec.args)
    return container


def run_job(
    spec: JobSpec, ref: RunRef, settings: ManifestSettings, *, suspend: bool = False
) -> dict[str, Any]:
    """The batch/v1 Job that executes one run.

    `backoffLimit: 0` because a run is one attempt by the user's code; a pod lost to preemption
    is not the code's failure, so `podFailurePolicy` ignores it and the Job makes a new pod.
    """
    labels = _labels(ref)
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": kube_job_name(ref.run_id),
            "namespace": settings.namespace,
            "labels": labels,
            "annotations": {RUN_NUMBER: str(ref.number), "walkai.io/job-name": spec.name},
        },
        "spec": {
            "backoffLimit": 0,
            "suspend": suspend,
            "podFailurePolicy": {
                "rules": [{"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}]
            },
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "restartPolicy": "Never",
                    "priorityClassName": priority_class_name(spec.priority),
                    "automountServiceAccountToken": False,
                    "containers": [_main_container(spec, ref, settings)],
                    "volumes": [_output_volume(spec, settings)],
                },
            },
        },
    }
