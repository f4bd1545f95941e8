"""Run credentials: a token that names one run, and the storage scope it grants.

The token is `wrt1.<run id>.<HMAC-SHA256 of the run id>` under the API's signing secret. It
holds no storage keys and no Kubernetes token: the run's containers trade it at the API's
broker (`broker.py`) for presigned URLs, one object at a time, and the broker checks every key
against the run's scope. How long it lives is decided per request from the run's state
(`app.domain.outputs.credential_valid`), so no deadline set at submission can cut off a
long job's upload, and the token dies a short grace after the run ends.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass, field
from uuid import UUID

_VERSION = "wrt1"


def outputs_prefix(run_id: UUID | str) -> str:
    """Where a run's outputs live in the store."""
    return f"runs/{run_id}/outputs/"


def manifest_key(run_id: UUID | str) -> str:
    """The manifest the upload sidecar writes last (outside the outputs, so not an artifact)."""
    return f"runs/{run_id}/manifest.json"


def input_prefix(input_id: UUID | str) -> str:
    """Where an input's files live in the store."""
    return f"inputs/{input_id}/files/"


UPLOADS_ROOT = "uploads/"


def upload_prefix(input_id: UUID | str) -> str:
    """Where clients PUT an input's files before it is finalized (copied to `input_prefix`
    then): an upload URL still valid after that writes where no run reads."""
    return f"{UPLOADS_ROOT}{input_id}/"


@dataclass(frozen=True)
class InputGrant:
    """One input a run may read: the directory name it gets and where its files are."""

    name: str
    prefix: str
    files: tuple[tuple[str, int], ...] = ()  # (path inside the input, size)


@dataclass(frozen=True)
class RunScope:
    """What one run's credential may touch: PUT under its outputs, GET under its inputs."""

    run_id: str
    inputs: tuple[InputGrant, ...] = field(default_factory=tuple)

    @property
    def write_prefix(self) -> str:
        """The only prefix the run may write to."""
        return outputs_prefix(self.run_id)

    def allows(self, method: str, key: str) -> bool:
        """Whether the run may `method` (GET or PUT) the already validated `key`."""
        if method == "PUT":
            return key.startswith(self.write_prefix)
        if method == "GET":
            return any(key.startswith(grant.prefix) for grant in self.inputs)
        return False


class RunTokens:
    """Issues and checks run tokens with one secret (replicas must share it)."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("the signing secret must be at least 16 bytes")
        self._secret = secret

    def issue(self, run_id: UUID | str) -> str:
        """The token of a run (the same every time: it is put in the run's Secret once)."""
        return f"{_VERSION}.{run_id}.{self._signature(str(run_id))}"

    def verify(self, token: str) -> str | None:
        """The run id a genuine token names; None for anything else."""
        version, _, rest = token.partition(".")
        run_id, _, signature = rest.partition(".")
        if version != _VERSION or not run_id or not signature:
            return None
        if not hmac.compare_digest(signature, self._signature(run_id)):
            return None
        return run_id

    def _signature(self, run_id: str) -> str:
        message = f"walkai-run-credential:{_VERSION}:{run_id}".encode()
        digest = hmac.new(self._secret, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
