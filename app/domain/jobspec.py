"""Validation of what a user asks to run: one function turns raw input into a spec or errors."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from app.domain.errors import ErrorCode, UserError
from app.domain.gpu import GpuProfile
from app.domain.priority import Priority

# The OCI/docker reference grammar (distribution/reference), anchored.
_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?"
_NAME = rf"(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
IMAGE_REFERENCE = re.compile(rf"^(?P<name>{_NAME})(?::{_TAG})?(?:@{_DIGEST})?$")
MAX_IMAGE_NAME = 255

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
RESERVED_ENV_PREFIX = "WALKAI_"
JOB_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
MAX_JOB_NAME = 63
MAX_ARGS = 256
MAX_ARG_LENGTH = 16_384
MAX_ENV = 128
MAX_ENV_VALUE = 32_768


@dataclass(frozen=True)
class EnvVar:
    """One environment variable for the main container."""

    name: str
    value: str


@dataclass(frozen=True)
class JobInput:
    """What a client sent, before validation (`None` means the field was omitted)."""

    image: str
    gpu: str
    storage_gi: int
    name: str | None = None
    command: Sequence[str] | None = None
    args: Sequence[str] | None = None
    env: Sequence[EnvVar] = ()
    priority: Priority = Priority.MEDIUM
    max_runtime_seconds: int | None = None


@dataclass(frozen=True)
class JobSpec:
    """A validated, normalised Job definition; immutable once created."""

    name: str
    image: str
    gpu: str
    storage_gi: int
    command: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    env: tuple[EnvVar, ...] = field(default_factory=tuple)
    priority: Priority = Priority.MEDIUM
    # Seconds a run may go on once admitted (None: no limit).
    max_runtime_seconds: int | None = None


@dataclass(frozen=True)
class Overrides:
    """What one rerun changes of its Job's definition (`None`: keep the Job's)."""

    priority: Priority | None = None
    max_runtime_seconds: int | None = None
    command: Sequence[str] | None = None
    args: Sequence[str] | None = None
    env: Sequence[EnvVar] | None = None


@dataclass(frozen=True)
class Limits:
    """The configurable bounds validation checks against."""

    profiles: Sequence[GpuProfile]
    storage_gi_min: int = 1
    storage_gi_max: int = 1024
    # A run's time limit when its Job names none, and the largest one may name (None: none).
    runtime_seconds_default: int | None = None
    runtime_seconds_max: int | None = None
    # What each user may keep in object storage (app/services/storage_use.py; None: no bound).
    storage_quota_bytes: int | None = None


def validate_image(image: str, field_name: str = "image") -> list[UserError]:
    """Check an image reference against the OCI grammar (docker.io/library/x:tag@sha256:…)."""
    image = image.strip()
    if not image:
        return [UserError(field_name, "An image is required.", ErrorCode.REQUIRED)]
    match = IMAGE_REFERENCE.match(image)
    if match is None:
        return [
            UserError(
                field_name,
                f"'{image}' is not a valid image reference "
                "(expected [registry/]repository[:tag][@digest], lowercase repository).",
                ErrorCode.INVALID,
            )
        ]
    if len(match.group("name")) > MAX_IMAGE_NAME:
        return [
            UserError(
                field_name,
                f"The repository name is longer than {MAX_IMAGE_NAME} characters.",
                ErrorCode.TOO_LONG,
            )
        ]
    return []


def default_job_name(image: str) -> str:
    """A readable name from the image's last path component (`ghcr.io/a/train:v1` → `train`)."""
    last = image.split("@", 1)[0].rsplit("/", 1)[-1].split(":", 1)[0]
    cleaned = re.sub(r"[^a-z0-9-]+", "-", last.lower()).strip("-")
    return (cleaned or "job")[:MAX_JOB_NAME].rstrip("-") or "job"


def _validate_strings(values: Sequence[str], field_name: str) -> list[UserError]:
    if len(values) > MAX_ARGS:
        return [
            UserError(field_name, f"At most {MAX_ARGS} entries are allowed.", ErrorCode.TOO_LONG)
        ]
    return [
        UserError(
            f"{field_name}.{i}",
            f"An entry may be at most {MAX_ARG_LENGTH} characters long.",
            ErrorCode.TOO_LONG,
        )
        for i, value in enumerate(values)
        if len(value) > MAX_ARG_LENGTH
    ]


def _validate_env(env: Sequence[EnvVar]) -> list[UserError]:
    if len(env) > MAX_ENV:
        return [UserError("env", f"At most {MAX_ENV} variables are allowed.", ErrorCode.TOO_LONG)]
    errors: list[UserError] = []
    seen: set[str] = set()
    for i, var in enumerate(env):
        where = f"env.{i}.name"
        if not ENV_NAME.match(var.name):
            errors.append(
                UserError(
                    where,
                    f"'{var.name}' is not a valid variable name "
                    "(letters, digits and '_', not starting with a digit).",
                    ErrorCode.INVALID,
                )
            )
        elif var.name.upper().startswith(RESERVED_ENV_PREFIX):
            errors.append(
                UserError(
                    where,
                    f"Names starting with {RESERVED_ENV_PREFIX} are set by the platform.",
                    ErrorCode.RESERVED,
                )
            )
        elif var.name in seen:
            errors.append(UserError(where, f"'{var.name}' is set twice.", ErrorCode.DUPLICATE))
        seen.add(var.name)
        if len(var.value) > MAX_ENV_VALUE:
            errors.append(
                UserError(
                    f"env.{i}.value",
                    f"A value may be at most {MAX_ENV_VALUE} characters long.",
                    ErrorCode.TOO_LONG,
                )
            )
    return errors


def _validate_runtime(
    seconds: int | None, limits: Limits, field_name: str = "maxRuntimeSeconds"
) -> list[UserError]:
    if seconds is None:
        return []
    top = limits.runtime_seconds_max
    if seconds < 1 or (top is not None and seconds > top):
        bound = f"between 1 and {top}" if top is not None else "at least 1"
        return [
            UserError(field_name, f"A time limit must be {bound} seconds.", ErrorCode.OUT_OF_RANGE)
        ]
    return []


def runtime_limit(seconds: int | None, limits: Limits) -> int | None:
    """The limit a run gets: the one asked for, else the configured default."""
    return seconds if seconds is not None else limits.runtime_seconds_default


def apply_overrides(
    spec: JobSpec, overrides: Overrides, limits: Limits, prefix: str = "overrides"
) -> JobSpec | list[UserError]:
    """The spec one rerun executes: the Job's, with what the rerun changes (checked by the same
    rules as createJob; fields are named under `prefix`)."""
    errors = _validate_runtime(overrides.max_runtime_seconds, limits, f"{prefix}.maxRuntimeSeconds")
    if overrides.command is not None:
        errors += _validate_strings(overrides.command, f"{prefix}.command")
    if overrides.args is not None:
        errors += _validate_strings(overrides.args, f"{prefix}.args")
    if overrides.env is not None:
        errors += [replace(e, field=f"{prefix}.{e.field}") for e in _validate_env(overrides.env)]
    if errors:
        return errors
    return replace(
        spec,
        priority=overrides.priority or spec.priority,
        max_runtime_seconds=(
            overrides.max_runtime_seconds
            if overrides.max_runtime_seconds is not None
            else spec.max_runtime_seconds
        ),
        command=tuple(overrides.command) if overrides.command is not None else spec.command,
        args=tuple(overrides.args) if overrides.args is not None else spec.args,
        env=tuple(overrides.env) if overrides.env is not None else spec.env,
    )


def validate_job(data: JobInput, limits: Limits) -> JobSpec | list[UserError]:
    """Turn a client's input into a JobSpec, or say every field that is wrong (all at once)."""
    errors = validate_image(data.image)
    known = {p.name for p in limits.profiles}
    if data.gpu not in known:
        errors.append(
            UserError(
                "gpu",
                f"Unknown GPU profile '{data.gpu}'; choose one of {', '.join(sorted(known))}.",
                ErrorCode.UNKNOWN_GPU_PROFILE,
            )
        )
    if not limits.storage_gi_min <= data.storage_gi <= limits.storage_gi_max:
        errors.append(
            UserError(
                "storageGi",
                f"Output storage must be between {limits.storage_gi_min} and "
                f"{limits.storage_gi_max} GiB.",
                ErrorCode.OUT_OF_RANGE,
            )
        )
    name = data.name.strip() if data.name is not None else None
    if name is not None and (len(name) > MAX_JOB_NAME or not JOB_NAME.match(name)):
        errors.append(
            UserError(
                "name",
                f"A name has at most {MAX_JOB_NAME} lowercase letters, digits or '-', "
                "starting and ending with a letter or digit.",
                ErrorCode.INVALID,
            )
        )
    errors += _validate_strings(data.command or (), "command")
    errors += _validate_strings(data.args or (), "args")
    errors += _validate_env(data.env)
    errors += _validate_runtime(data.max_runtime_seconds, limits)
    if errors:
        return errors
    return JobSpec(
        name=name or default_job_name(data.image),
        image=data.image.strip(),
        gpu=data.gpu,
        storage_gi=data.storage_gi,
        command=tuple(data.command or ()),
        args=tuple(data.args or ()),
        env=tuple(data.env),
        priority=data.priority,
        max_runtime_seconds=runtime_limit(data.max_runtime_seconds, limits),
    )
