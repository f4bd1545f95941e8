"""Platform secrets: names and key names in the database, values only in Kubernetes Secrets.

Values are write-only: they go from the mutation's input into the Kubernetes Secret's `data`
and nowhere else — never into a row, a log line, an error message or a response. Each change
writes the row and the Kubernetes Secret inside one transaction (the row is rolled back if
Kubernetes refuses), so neither exists without the other.
"""

from __future__ import annotations

import base64
import enum
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast
from uuid import UUID, uuid4

from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from app.auth.policy import Principal, can_see, can_use_team, visible
from app.db.auth_models import Secret
from app.db.models import Job
from app.domain.errors import ErrorCode, UserError
from app.domain.status import UNFINISHED
from app.kube.labels import MANAGED_BY, MANAGER

log = logging.getLogger(__name__)
# kubernetes-asyncio logs every response body at DEBUG: for Secrets, that is their values.
logging.getLogger("kubernetes_asyncio.client.rest").setLevel(logging.INFO)

SECRET_ID = "walkai.io/secret-id"
SECRET_NAME = "walkai.io/secret-name"
MAX_KEYS = 100
MAX_VALUE_BYTES = 256 * 1024  # in all; Kubernetes refuses Secrets over 1 MiB
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,252}$")


class UpdateMode(enum.Enum):
    """How updateSecret treats the keys it is not given."""

    MERGE = "MERGE"
    REPLACE = "REPLACE"


@dataclass(frozen=True)
class Entry:
    """One key and its (write-only) value."""

    key: str
    value: str

    def __repr__(self) -> str:  # a value must never reach a log line through a repr
        return f"Entry(key={self.key!r}, value=<hidden>)"


def kube_secret_name(secret_id: UUID) -> str:
    """The Kubernetes Secret of a platform secret (names are per owner; this one is unique)."""
    return f"walkai-secret-{secret_id.hex}"


def name_problem(name: str) -> UserError | None:
    """Why a secret name is refused (DNS-1123 label), or None."""
    if not name:
        return UserError("name", "Give the secret a name.", ErrorCode.REQUIRED)
    if len(name) > 63:
        return UserError("name", "At most 63 characters.", ErrorCode.TOO_LONG)
    if not _DNS_LABEL.match(name):
        return UserError(
            "name",
            "Use lower-case letters, digits and '-', starting and ending with a letter or digit.",
            ErrorCode.INVALID,
        )
    return None


def data_problems(data: Sequence[Entry], *, allow_empty: bool = False) -> list[UserError]:
    """Why key/value pairs are refused: keys must be environment variable names, once each."""
    errors = []
    if not data and not allow_empty:
        errors.append(UserError("data", "Give at least one key.", ErrorCode.REQUIRED))
    if len(data) > MAX_KEYS:
        errors.append(UserError("data", f"At most {MAX_KEYS} keys.", ErrorCode.OUT_OF_RANGE))
    seen: set[str] = set()
    for i, entry in enumerate(data):
        if not _ENV_NAME.match(entry.key):
            errors.append(
                UserError(
                    f"data.{i}.key",
                    "Use letters, digits and '_', not starting with a digit.",
                    ErrorCode.INVALID,
                )
            )
        elif entry.key in seen:
            errors.append(UserError(f"data.{i}.key", "This key repeats.", ErrorCode.DUPLICATE))
        seen.add(entry.key)
    if sum(len(e.value.encode()) for e in data) > MAX_VALUE_BYTES:
        errors.append(
            UserError("data", f"Values total at most {MAX_VALUE_BYTES} bytes.", ErrorCode.TOO_LONG)
        )
    return errors


def _encoded(data: Sequence[Entry]) -> dict[str, str]:
    return {e.key: base64.b64encode(e.value.encode()).decode() for e in data}


def _manifest(secret: Secret, namespace: str, data: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {
            "name": secret.kube_name,
            "namespace": namespace,
            "labels": {MANAGED_BY: MANAGER, SECRET_ID: str(secret.id)},
            "annotations": {SECRET_NAME: secret.name},
        },
        "data": data,
    }


def _cluster_error(action: str, secret_id: UUID, exc: Exception) -> UserError:
    # Only the status goes to the log: an exception's text may quote the request.
    status = exc.status if isinstance(exc, ApiException) else type(exc).__name__
    log.warning("%s the Kubernetes Secret of secret %s failed: %s", action, secret_id, status)
    return UserError(
        None,
        "The cluster refused or did not answer; nothing changed.",
        ErrorCode.CLUSTER_UNAVAILABLE,
    )


@dataclass
class Changed:
    """A secret after a change, or why nothing changed."""

    secret: Secret | None
    errors: list[UserError]


async def create_secret(
    api: client.ApiClient,
    namespace: str,
    viewer: Principal,
    name: str,
    data: Sequence[Entry],
    team_id: UUID | None = None,
) -> Changed:
    """Store a new secret: its row and its Kubernetes Secret, or neither."""
    errors = [e for e in [name_problem(name)] if e] + data_problems(data)
    if team_id is not None and not can_use_team(viewer, team_id):
        errors.append(UserError("teamId", "No team with this id.", ErrorCode.NOT_FOUND))
    if not errors and await Secret.exists(owner_id=viewer.user_id, name=name):
        errors.append(
            UserError("name", "You already have a secret with this name.", ErrorCode.DUPLICATE)
        )
    if errors:
        return Changed(None, errors)
    secret_id = uuid4()
    core = client.CoreV1Api(api)
    try:
        async with in_transaction():
            secret = await Secret.create(
                id=secret_id,
                name=name,
                owner_id=viewer.user_id,
                team_id=team_id,
                keys=[e.key for e in data],
                kube_name=kube_secret_name(secret_id),
            )
            manifest = _manifest(secret, namespace, _encoded(data))
            try:
                await core.create_namespaced_secret(namespace, cast(Any, manifest))
            except Exception as exc:
                raise _Refused(_cluster_error("creating", secret_id, exc)) from None
    except _Refused as refused:
        return Changed(None, [refused.error])
    except IntegrityError:  # the same name, created concurrently
        await _delete_quietly(core, namespace, kube_secret_name(secret_id))
        return Changed(
            None,
            [UserError("name", "You already have a secret with this name.", ErrorCode.DUPLICATE)],
        )
    return Changed(secret, [])


class _Refused(Exception):
    """Kubernetes refused: roll the transaction back and report this error."""

    def __init__(self, error: UserError) -> None:
        super().__init__(error.message)
        self.error = error


async def _delete_quietly(core: client.CoreV1Api, namespace: str, name: str) -> None:
    try:
        await core.delete_namespaced_secret(name, namespace)
    except Exception as exc:
        status = exc.status if isinstance(exc, ApiException) else type(exc).__name__
        if status != 404:
            log.warning("deleting Kubernetes Secret %s failed: %s", name, status)


async def find_secret(viewer: Principal | None, secret_id: UUID | None) -> Secret | None:
    """A secret the viewer may see, else None (missing and invisible look the same)."""
    if secret_id is None:
        return None
    secret = await Secret.get_or_none(id=secret_id)
    return secret if secret is not None and can_see(viewer, secret) else None


async def update_secret(
    api: client.ApiClient,
    namespace: str,
    viewer: Principal,
    secret_id: UUID | None,
    data: Sequence[Entry],
    mode: UpdateMode,
    remove_keys: Sequence[str] = (),
) -> Changed:
    """Set keys (MERGE keeps the others, REPLACE drops them) and remove `remove_keys`."""
    secret = await find_secret(viewer, secret_id)
    if secret is None:
        return Changed(None, [UserError("id", "No secret with this id.", ErrorCode.NOT_FOUND)])
    errors = data_problems(data, allow_empty=mode is UpdateMode.MERGE)
    given = {e.key for e in data}
    for i, key in enumerate(remove_keys):
        if key in given:
            errors.append(
                UserError(f"removeKeys.{i}", "This key is also being set.", ErrorCode.INVALID)
            )
    if mode is UpdateMode.MERGE:
        keys = [k for k in secret.keys if k not in given and k not in remove_keys] + [
            e.key for e in data
        ]
    else:
        keys = [e.key for e in data]
    if not keys:
        errors.append(UserError("data", "A secret keeps at least one key.", ErrorCode.REQUIRED))
    if errors:
        return Changed(None, errors)
    core = client.CoreV1Api(api)
    try:
        async with in_transaction():
            secret.keys = keys
            await secret.save(update_fields=["keys", "updated_at"])
            try:
                values = _encoded(data)
                manifest = _manifest(secret, namespace, values)
                if mode is UpdateMode.MERGE:
                    # Read, merge, replace at that resourceVersion: a concurrent change makes
                    # this one fail (409) rather than be lost.
                    current = await core.read_namespaced_secret(secret.kube_name, namespace)
                    kept = {k: v for k, v in (current.data or {}).items() if k in keys}
                    manifest["data"] = {**kept, **values}
                    manifest["metadata"]["resourceVersion"] = current.metadata.resource_version
                await core.replace_namespaced_secret(
                    secret.kube_name, namespace, cast(Any, manifest)
                )
            except Exception as exc:
                raise _Refused(_cluster_error("updating", secret.id, exc)) from None
    except _Refused as refused:
        return Changed(None, [refused.error])
    return Changed(secret, [])


async def runs_needing(secret: Secret) -> int:
    """How many unfinished runs' Jobs inject this secret."""
    jobs = await Job.filter(runs__status__in=list(UNFINISHED)).distinct().only("id", "secrets")
    return sum(1 for job in jobs if any(s.get("id") == str(secret.id) for s in job.secrets))


async def delete_secret(
    api: client.ApiClient, namespace: str, viewer: Principal, secret_id: UUID | None
) -> Changed:
    """Delete a secret no unfinished run needs: its row and its Kubernetes Secret."""
    secret = await find_secret(viewer, secret_id)
    if secret is None:
        return Changed(None, [UserError("id", "No secret with this id.", ErrorCode.NOT_FOUND)])
    if needing := await runs_needing(secret):
        return Changed(
            None,
            [
                UserError(
                    "id",
                    f"{needing} unfinished run(s) use this secret; cancel them or wait until "
                    "they end, then delete it.",
                    ErrorCode.IN_USE,
                )
            ],
        )
    core = client.CoreV1Api(api)
    try:
        async with in_transaction():
            await Secret.filter(id=secret.id).delete()
            try:
                await core.delete_namespaced_secret(secret.kube_name, namespace)
            except ApiException as exc:
                if exc.status != 404:  # already gone is what we wanted
                    raise _Refused(_cluster_error("deleting", secret.id, exc)) from None
            except Exception as exc:
                raise _Refused(_cluster_error("deleting", secret.id, exc)) from None
    except _Refused as refused:
        return Changed(None, [refused.error])
    return Changed(secret, [])


def visible_secrets(viewer: Principal | None) -> Any:
    """A query of the secrets the viewer may see."""
    return visible(viewer, Secret.all())


async def secrets_for_job(
    viewer: Principal, names: Sequence[str]
) -> tuple[list[Secret], list[UserError]]:
    """The secrets a new Job injects, by name: the viewer's own first, else a team's."""
    found: list[Secret] = []
    errors: list[UserError] = []
    for i, name in enumerate(names):
        if any(s.name == name for s in found):
            errors.append(UserError(f"secretNames.{i}", "This name repeats.", ErrorCode.DUPLICATE))
            continue
        candidates = await visible_secrets(viewer).filter(name=name).order_by("created_at")
        mine = [s for s in candidates if s.owner_id == viewer.user_id]
        chosen = (mine or candidates or [None])[0]
        if chosen is None:
            errors.append(
                UserError(f"secretNames.{i}", f"No secret named {name!r}.", ErrorCode.NOT_FOUND)
            )
        else:
            found.append(chosen)
    return found, errors


def team_for(viewer: Principal, team_id: Any) -> tuple[UUID | None, list[UserError]]:
    """The team a new object is shared with (a Relay id of a team of the viewer's), or why not."""
    if team_id is None:
        return None, []
    parsed = _uuid(team_id.node_id) if team_id.type_name == "Team" else None
    if parsed is None or not can_use_team(viewer, parsed):
        return None, [UserError("teamId", "No team with this id.", ErrorCode.NOT_FOUND)]
    return parsed, []


def _uuid(value: str) -> UUID | None:
    try:
        return UUID(value)
    except ValueError:
        return None


def job_secret_refs(secrets: Sequence[Secret]) -> list[dict[str, str]]:
    """What a Job stores about its secrets (ids, names, Kubernetes names; never values)."""
    return [{"id": str(s.id), "name": s.name, "kube_name": s.kube_name} for s in secrets]
