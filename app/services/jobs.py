"""Submitting Jobs: validate, record, create the Kubernetes Job, and never leave half a run."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast
from uuid import UUID

from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from app.auth.policy import Principal, can_see_input
from app.db.auth_models import Secret
from app.db.models import Job, Run, RunEvent
from app.db.storage_models import Input, JobInputLink
from app.domain.errors import ErrorCode, UserError
from app.domain.jobspec import (
    EnvVar,
    JobInput,
    JobSpec,
    Limits,
    Overrides,
    apply_overrides,
    validate_job,
)
from app.domain.status import RunStatus
from app.events.hub import Hub
from app.kube.labels import kube_job_name
from app.kube.manifests import ManifestSettings, RunRef, credential_secret, run_job
from app.services.inputs import job_input_refs
from app.services.runs import fail_run, publish
from app.services.secrets import job_secret_refs, visible_secrets
from app.services.storage_use import storage_problem
from app.sidecar.credentials import RunTokens

log = logging.getLogger(__name__)

SUBMIT_FAILED = "SubmitFailed"


@dataclass
class Submitted:
    """What createJob returns: the Job, its first run, and any error that happened on the way."""

    job: Job | None
    run: Run | None
    errors: list[UserError]


def spec_of(job: Job) -> JobSpec:
    """The validated spec a stored Job was created from."""
    return JobSpec(
        name=job.name,
        image=job.image,
        gpu=job.gpu,
        storage_gi=job.storage_gi,
        command=tuple(job.command),
        args=tuple(job.args),
        env=tuple(EnvVar(**var) for var in job.env),
        priority=job.priority,
        max_runtime_seconds=job.max_runtime_seconds,
    )


def run_spec(job: Job, run: Run) -> JobSpec:
    """What one run executes: its Job's spec with what the run recorded (a rerun's changes)."""
    spec = spec_of(job)
    return JobSpec(
        name=spec.name,
        image=spec.image,
        gpu=spec.gpu,
        storage_gi=spec.storage_gi,
        command=tuple(run.command) if run.command is not None else spec.command,
        args=tuple(run.args) if run.args is not None else spec.args,
        env=tuple(EnvVar(**var) for var in run.env) if run.env is not None else spec.env,
        priority=run.priority,
        max_runtime_seconds=run.max_runtime_seconds,
    )


def _new_run(job: Job, number: int, spec: JobSpec) -> Run:
    """An unsaved run of `job` recording what it will run with."""
    run = Run(
        job=job,
        number=number,
        status=RunStatus.SUBMITTED,
        priority=spec.priority,
        max_runtime_seconds=spec.max_runtime_seconds,
        command=list(spec.command),
        args=list(spec.args),
        env=[{"name": v.name, "value": v.value} for v in spec.env],
    )
    run.kube_name = kube_job_name(str(run.id))
    return run


def _cluster_message(exc: Exception) -> str:
    if isinstance(exc, ApiException):
        return f"The cluster refused the run ({exc.status} {exc.reason})."
    return "The cluster could not be reached; the run was not started."


async def start_run(
    api: client.ApiClient,
    hub: Hub[Run],
    settings: ManifestSettings,
    job: Job,
    run: Run,
    *,
    tokens: RunTokens,
) -> UserError | None:
    """Create the run's Kubernetes Job, then its credential Secret owned by that Job (so it
    goes when the Job goes); on failure the run is FAILED and the error returned."""
    ref = RunRef(job_id=str(job.id), run_id=str(run.id), number=run.number)
    with_inputs = await JobInputLink.exists(job_id=job.id)
    manifest = run_job(
        run_spec(job, run),
        ref,
        settings,
        suspend=True,  # the admission queue lets it run (app/services/admission.py)
        with_inputs=with_inputs,
        secret_refs=[s["kube_name"] for s in job.secrets],
    )
    batch = client.BatchV1Api(api)
    created = None
    try:
        created = await batch.create_namespaced_job(settings.namespace, cast(Any, manifest))
        secret = credential_secret(
            ref, tokens.issue(run.id), created.metadata.uid, settings.namespace
        )
        await client.CoreV1Api(api).create_namespaced_secret(settings.namespace, cast(Any, secret))
    except Exception as exc:
        if created is not None:
            # A Job without its credential would wait forever for the Secret.
            try:
                await batch.delete_namespaced_job(
                    created.metadata.name, settings.namespace, propagation_policy="Background"
                )
            except Exception as cleanup:
                log.warning("deleting the Kubernetes Job of run %s failed: %r", run.id, cleanup)
        log.warning("creating the Kubernetes Job of run %s failed: %r", run.id, exc)
        message = _cluster_message(exc)
        await fail_run(hub, run, SUBMIT_FAILED, message)
        return UserError(None, message, ErrorCode.CLUSTER_UNAVAILABLE)
    return None


async def submit_job(
    api: client.ApiClient,
    hub: Hub[Run],
    data: JobInput,
    limits: Limits,
    settings: ManifestSettings,
    *,
    owner_id: UUID,
    team_id: UUID | None = None,
    tokens: RunTokens,
    inputs: Sequence[Input] = (),
    secrets: Sequence[Secret] = (),
) -> Submitted:
    """Validate and store a Job with its first run, then start the run on the cluster.

    The Job (and so its runs) belongs to `owner_id`, shared with `team_id` if given; callers
    check that the owner may use that team (app/auth/policy.py).
    """
    spec = validate_job(data, limits)
    if isinstance(spec, list):
        return Submitted(job=None, run=None, errors=spec)
    if full := await storage_problem(owner_id, 0, limits.storage_quota_bytes, "storageGi"):
        return Submitted(job=None, run=None, errors=[full])
    async with in_transaction():
        job = await Job.create(
            name=spec.name,
            image=spec.image,
            gpu=spec.gpu,
            storage_gi=spec.storage_gi,
            command=list(spec.command),
            args=list(spec.args),
            env=[{"name": v.name, "value": v.value} for v in spec.env],
            priority=spec.priority,
            max_runtime_seconds=spec.max_runtime_seconds,
            run_count=1,
            owner_id=owner_id,
            team_id=team_id,
            secrets=job_secret_refs(secrets),
            inputs=job_input_refs(inputs),
        )
        for position, item in enumerate(inputs):
            await JobInputLink.create(job=job, input=item, position=position)
        run = _new_run(job, 1, spec)
        await run.save()
        await RunEvent.create(run=run, version=run.version, status=run.status)
    publish(hub, run)
    error = await start_run(api, hub, settings, job, run, tokens=tokens)
    return Submitted(job=job, run=run, errors=[error] if error else [])


async def rerun_job(
    api: client.ApiClient,
    hub: Hub[Run],
    settings: ManifestSettings,
    job: Job,
    *,
    viewer: Principal,
    tokens: RunTokens,
    overrides: Overrides | None = None,
    limits: Limits | None = None,
) -> Submitted:
    """Run an existing Job again (same definition and inputs, with `overrides` for this run
    only, checked against `limits`): the next number, a new run.

    `viewer` is who asks now (for a schedule, its creator as they are now): refused if an input
    or secret the Job names was deleted since, or is no longer one the viewer may see, exactly
    as createJob would refuse it. A rerun injects a secret's current value, so access granted
    when the Job was created (a team since left) must not carry over."""
    spec = spec_of(job)
    if overrides is not None:
        changed = apply_overrides(spec, overrides, limits or Limits(profiles=()))
        if isinstance(changed, list):
            return Submitted(job=job, run=None, errors=changed)
        spec = changed
    if gone := await _unavailable(viewer, job):
        return Submitted(job=job, run=None, errors=gone)
    quota = limits.storage_quota_bytes if limits is not None else None
    owner_id = job.owner_id  # type: ignore[attr-defined]
    if full := await storage_problem(owner_id, 0, quota, "jobId"):
        return Submitted(job=job, run=None, errors=[full])
    async with in_transaction():
        # Atomic, so concurrent reruns get distinct numbers.
        await Job.filter(id=job.id).update(run_count=F("run_count") + 1)
        await job.refresh_from_db(fields=["run_count"])
        run = _new_run(job, job.run_count, spec)
        await run.save()
        await RunEvent.create(run=run, version=run.version, status=run.status)
    publish(hub, run)
    error = await start_run(api, hub, settings, job, run, tokens=tokens)
    return Submitted(job=job, run=run, errors=[error] if error else [])


async def _unavailable(viewer: Principal, job: Job) -> list[UserError]:
    """The inputs and secrets the Job names that the viewer can no longer use: deleted since,
    or out of the viewer's sight (a team left, a role lost). Both read as missing, as in
    createJob; a rerun would otherwise start without the data or variables it was defined
    with, or hand the viewer a secret they may no longer see."""
    input_ids = [ref["id"] for ref in job.inputs]
    inputs = {str(i.id) for i in await Input.filter(id__in=input_ids) if can_see_input(viewer, i)}
    secret_ids = [ref["id"] for ref in job.secrets]
    secrets = {
        str(id_)
        for id_ in await visible_secrets(viewer)
        .filter(id__in=secret_ids)
        .values_list("id", flat=True)
    }
    gone = [("Input", "reads", ref) for ref in job.inputs if ref["id"] not in inputs]
    gone += [("Secret", "injects", ref) for ref in job.secrets if ref["id"] not in secrets]
    return [
        UserError(
            "jobId",
            f"{kind} '{ref['name']}' that this Job {verb} was deleted or is not yours to use "
            "any more; create a new Job.",
            ErrorCode.NOT_FOUND,
        )
        for kind, verb, ref in gone
    ]
