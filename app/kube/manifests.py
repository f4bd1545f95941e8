"""The Kubernetes objects of a run, built by pure functions (golden-tested)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app.domain.gpu import resource_name
from app.domain.jobspec import JobSpec
from app.domain.outputs import INPUTS_CONTAINER, SIDECAR_CONTAINER
from app.domain.priority import priority_class_name
from app.domain.status import MAIN_CONTAINER
from app.kube.labels import JOB_ID, MANAGED_BY, MANAGER, RUN_ID, RUN_NUMBER, kube_job_name

OUTPUT_DIR = "/walkai/output"
INPUT_DIR = "/walkai/inputs"
OUTPUT_VOLUME = "output"
INPUT_VOLUME = "inputs"
SIDECAR_STATE_VOLUME = "sidecar-state"
SIDECAR_STATE_DIR = "/walkai/sidecar"
# The upload sidecar's first process: a shell traps the kubelet's SIGTERM (sent once every main
# container has ended) and turns it into a file the upload command polls, so a main container
# that ends before Python is up cannot be missed; a repeated SIGTERM does not end it either.
# Once the trap is set it writes STARTED_FILE, which the sidecar's postStart hook waits for: the
# kubelet starts the main container only once that hook has returned, so even a main container
# that ends at once cannot send its SIGTERM before the trap (the shell's default would end it
# with 143, and the outputs would never be uploaded).
STARTED_FILE = f"{SIDECAR_STATE_DIR}/started"
UPLOAD_WRAPPER = (
    "trap ': > \"$WALKAI_STOP_FILE\"' TERM\n"
    f": > {STARTED_FILE}\n"
    "walkai-jobs sidecar upload &\n"
    "pid=$!\n"
    # `wait` returns early whenever a signal is trapped: wait again while the upload goes on.
    'while :; do wait "$pid"; code=$?\n'
    '  [ "$code" -gt 128 ] && kill -0 "$pid" 2>/dev/null || break\n'
    "done\n"
    "exit $code\n"
)
# Up to about 30 s: a sidecar whose shell has not set its trap by then failed to start.
STARTED_HOOK = f"for i in $(seq 3000); do [ -e {STARTED_FILE} ] && exit 0; sleep 0.01; done; exit 1"
CREDENTIAL_KEY = "token"


@dataclass(frozen=True)
class ManifestSettings:
    """The cluster-specific choices a manifest depends on (from configuration)."""

    namespace: str
    gpu_resource_prefix: str = "nvidia.com/mig-"
    output_volume: str = "ephemeral"  # or "emptyDir"
    storage_class: str | None = None
    # The project's own image, which runs `walkai-jobs sidecar …` beside the user's code.
    sidecar_image: str = "ghcr.io/walkai/jobs-api:latest"
    # How the run's pod reaches the API (its storage broker).
    api_url: str = "http://walkai-jobs-api"
    # The upload's time after the main container ends (the pod's termination grace).
    upload_grace_seconds: int = 600
    # The ServiceAccount of run pods (one with no permissions and no token; deploy/ makes
    # `walkai-run`); None leaves the namespace's default.
    service_account: str | None = None


@dataclass(frozen=True)
class RunRef:
    """Which run a manifest is for."""

    job_id: str
    run_id: str
    number: int


def credential_secret_name(run_id: str) -> str:
    """The Secret holding a run's credential (owned by the run's Job, deleted with it)."""
    return f"{kube_job_name(run_id)}-credential"


def credential_secret(ref: RunRef, token: str, job_uid: str, namespace: str) -> dict[str, Any]:
    """The run's credential Secret, owned by its Kubernetes Job (uid `job_uid`)."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": credential_secret_name(ref.run_id),
            "namespace": namespace,
            "labels": _labels(ref),
            "ownerReferences": [
                {
                    "apiVersion": "batch/v1",
                    "kind": "Job",
                    "name": kube_job_name(ref.run_id),
                    "uid": job_uid,
                    "blockOwnerDeletion": False,
                }
            ],
        },
        "type": "Opaque",
        "stringData": {CREDENTIAL_KEY: token},
    }


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


def _main_container(
    spec: JobSpec, ref: RunRef, settings: ManifestSettings, secret_refs: Sequence[str] = ()
) -> dict[str, Any]:
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
        "volumeMounts": [
            {"name": OUTPUT_VOLUME, "mountPath": OUTPUT_DIR},
            {"name": INPUT_VOLUME, "mountPath": INPUT_DIR, "readOnly": True},
        ],
    }
    if secret_refs:
        # Platform secrets: every key becomes a variable; the values never pass through us.
        container["envFrom"] = [{"secretRef": {"name": name}} for name in secret_refs]
    if spec.command:
        container["command"] = list(spec.command)
    if spec.args:
        container["args"] = list(spec.args)
    return container


def _storage_container(
    name: str, command: str, mount: dict[str, Any], ref: RunRef, settings: ManifestSettings
) -> dict[str, Any]:
    """A container of the project's image running `walkai-jobs sidecar <command>`; the only
    ones that see the run's credential."""
    directory = "WALKAI_OUTPUT_DIR" if mount["name"] == OUTPUT_VOLUME else "WALKAI_INPUT_DIR"
    return {
        "name": name,
        "image": settings.sidecar_image,
        "command": ["walkai-jobs", "sidecar", command],
        "env": [
            {"name": "WALKAI_API_URL", "value": settings.api_url},
            {"name": "WALKAI_RUN_ID", "value": ref.run_id},
            {"name": directory, "value": mount["mountPath"]},
            {
                "name": "WALKAI_RUN_TOKEN",
                "valueFrom": {
                    "secretKeyRef": {
                        "name": credential_secret_name(ref.run_id),
                        "key": CREDENTIAL_KEY,
                    }
                },
            },
        ],
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
        "volumeMounts": [mount],
    }


def _init_containers(ref: RunRef, settings: ManifestSettings, with_inputs: bool) -> list[Any]:
    """Inputs first (the user's code starts only once they are in place), then the upload
    sidecar: a native sidecar (`restartPolicy: Always`), which the kubelet stops with SIGTERM
    only after the main container has ended, however it ended."""
    containers = []
    if with_inputs:
        inputs: dict[str, Any] = {"name": INPUT_VOLUME, "mountPath": INPUT_DIR}
        containers.append(
            _storage_container(INPUTS_CONTAINER, "fetch-inputs", inputs, ref, settings)
        )
    outputs: dict[str, Any] = {"name": OUTPUT_VOLUME, "mountPath": OUTPUT_DIR, "readOnly": True}
    sidecar = _storage_container(SIDECAR_CONTAINER, "upload", outputs, ref, settings)
    sidecar["restartPolicy"] = "Always"
    sidecar["command"] = ["sh", "-c", UPLOAD_WRAPPER]
    sidecar["env"].append({"name": "WALKAI_STOP_FILE", "value": f"{SIDECAR_STATE_DIR}/stop"})
    sidecar["volumeMounts"].append({"name": SIDECAR_STATE_VOLUME, "mountPath": SIDECAR_STATE_DIR})
    sidecar["lifecycle"] = {"postStart": {"exec": {"command": ["sh", "-c", STARTED_HOOK]}}}
    containers.append(sidecar)
    return containers


def run_job(
    spec: JobSpec,
    ref: RunRef,
    settings: ManifestSettings,
    *,
    suspend: bool = False,
    with_inputs: bool = False,
    secret_refs: Sequence[str] = (),
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
            **(
                {"activeDeadlineSeconds": spec.max_runtime_seconds}
                if spec.max_runtime_seconds is not None
                else {}
            ),
            "podFailurePolicy": {
                "rules": [{"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}]
            },
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "restartPolicy": "Never",
                    "priorityClassName": priority_class_name(spec.priority),
                    **(
                        {"serviceAccountName": settings.service_account}
                        if settings.service_account
                        else {}
                    ),
                    "automountServiceAccountToken": False,
                    "terminationGracePeriodSeconds": settings.upload_grace_seconds,
                    "initContainers": _init_containers(ref, settings, with_inputs),
                    "containers": [_main_container(spec, ref, settings, secret_refs)],
                    "volumes": [
                        _output_volume(spec, settings),
                        {"name": INPUT_VOLUME, "emptyDir": {}},
                        {"name": SIDECAR_STATE_VOLUME, "emptyDir": {"sizeLimit": "1Mi"}},
                    ],
                },
            },
        },
    }
