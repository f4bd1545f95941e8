"""Validation of Job input: every field's rule, all errors reported at once."""

from __future__ import annotations

import pytest

from app.domain.errors import ErrorCode
from app.domain.gpu import DEFAULT_PROFILES
from app.domain.jobspec import EnvVar, JobInput, JobSpec, Limits, default_job_name, validate_job

LIMITS = Limits(profiles=DEFAULT_PROFILES, storage_gi_min=1, storage_gi_max=100)


def errors_of(**fields: object) -> dict[str | None, ErrorCode]:
    base: dict[str, object] = {"image": "python:3.11", "gpu": "1g.10gb", "storage_gi": 5}
    result = validate_job(JobInput(**{**base, **fields}), LIMITS)  # type: ignore[arg-type]
    assert isinstance(result, list), result
    return {e.field: e.code for e in result}


@pytest.mark.parametrize(
    "image",
    [
        "python",
        "python:3.11-slim",
        "ghcr.io/walkai/train:v1",
        "localhost:5000/team/model_x:latest",
        "registry.example.com/a/b/c@sha256:" + "a" * 64,
        "docker.io/library/busybox:1.36@sha256:" + "0" * 64,
    ],
)
def test_valid_images_are_accepted(image: str) -> None:
    spec = validate_job(JobInput(image=image, gpu="1g.10gb", storage_gi=1), LIMITS)
    assert isinstance(spec, JobSpec)
    assert spec.image == image


@pytest.mark.parametrize(
    ("image", "code"),
    [
        ("", ErrorCode.REQUIRED),
        ("   ", ErrorCode.REQUIRED),
        ("Python:3.11", ErrorCode.INVALID),
        ("python:", ErrorCode.INVALID),
        ("a b", ErrorCode.INVALID),
        ("ghcr.io/x/y@sha256:short", ErrorCode.INVALID),
        ("-leading/dash", ErrorCode.INVALID),
        ("x" * 256, ErrorCode.TOO_LONG),
    ],
)
def test_invalid_images_name_the_field(image: str, code: ErrorCode) -> None:
    assert errors_of(image=image) == {"image": code}


def test_unknown_gpu_profile_lists_the_known_ones() -> None:
    result = validate_job(JobInput(image="python", gpu="9g.90gb", storage_gi=1), LIMITS)
    assert isinstance(result, list)
    (error,) = result
    assert error.field == "gpu" and error.code is ErrorCode.UNKNOWN_GPU_PROFILE
    assert "1g.10gb" in error.message and "7g.80gb" in error.message


@pytest.mark.parametrize("size", [0, -1, 101])
def test_storage_out_of_bounds(size: int) -> None:
    assert errors_of(storage_gi=size) == {"storageGi": ErrorCode.OUT_OF_RANGE}


@pytest.mark.parametrize("name", ["Upper", "-x", "x-", "a_b", "x" * 64, ""])
def test_invalid_names(name: str) -> None:
    assert errors_of(name=name) == {"name": ErrorCode.INVALID}


def test_env_rules() -> None:
    env = [
        EnvVar("OK", "1"),
        EnvVar("1BAD", "x"),
        EnvVar("WALKAI_RUN_ID", "x"),
        EnvVar("OK", "2"),
        EnvVar("BIG", "x" * 40_000),
    ]
    assert errors_of(env=env) == {
        "env.1.name": ErrorCode.INVALID,
        "env.2.name": ErrorCode.RESERVED,
        "env.3.name": ErrorCode.DUPLICATE,
        "env.4.value": ErrorCode.TOO_LONG,
    }


def test_every_error_is_reported_at_once() -> None:
    assert errors_of(image="BAD", gpu="nope", storage_gi=0, command=["x" * 20_000]) == {
        "image": ErrorCode.INVALID,
        "gpu": ErrorCode.UNKNOWN_GPU_PROFILE,
        "storageGi": ErrorCode.OUT_OF_RANGE,
        "command.0": ErrorCode.TOO_LONG,
    }


@pytest.mark.parametrize(
    ("image", "name"),
    [
        ("ghcr.io/acme/train:v1", "train"),
        ("python", "python"),
        ("reg:5000/a/My_Model@sha256:" + "a" * 64, "my-model"),
    ],
)
def test_default_name_comes_from_the_image(image: str, name: str) -> None:
    assert default_job_name(image) == name
