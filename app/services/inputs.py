"""Inputs: declare files and get upload URLs, finalize, promote a run's outputs, delete, and
check the inputs a new Job names. Bytes never pass through the API: clients PUT to presigned
URLs, and promotion copies inside the store.

An upload URL is signed for one file's declared size and content type: the local store refuses
any other body, and S3 any other `Content-Length`/`Content-Type` header. Uploads land under
`uploads/<input>/`; finalizing checks each declared file there and copies it to the input's
files (`inputs/<input>/files/`), which runs read, then removes the uploads. So an upload URL
that still works after finalizing or deleting its input (S3 cannot be asked: a URL works until
it expires, `UPLOAD_URL_TTL`) writes where no run reads, and `sweep_stray_uploads` (on the
janitor's pass) removes what it wrote. The local store also asks `upload_open` before each
write and refuses such a write outright.
"""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from uuid import UUID

from tortoise.expressions import Subquery
from tortoise.transactions import in_transaction

from app.auth.policy import Viewer, can_see_input
from app.db.models import Run
from app.db.storage_models import Input, InputFile, InputStatus, JobInputLink
from app.domain.errors import ErrorCode, UserError
from app.domain.inputs import DEFAULT_CONTENT_TYPE, FileDeclaration, InputLimits, validate_input
from app.domain.status import UNFINISHED
from app.services.storage_use import storage_problem
from app.sidecar.credentials import UPLOADS_ROOT, input_prefix, outputs_prefix, upload_prefix
from app.storage.base import NotFound, ObjectStore

#: How long a client has to start the PUT of each declared file.
UPLOAD_URL_TTL = 3600
_UPLOAD_KEY = re.compile(r"^uploads/([^/]+)/")


@dataclass(frozen=True)
class UploadUrl:
    """Where to PUT one declared file, with the Content-Type the URL was signed for."""

    path: str
    url: str
    content_type: str
    expires_at: datetime


@dataclass
class InputResult:
    """An input (when the change happened) and what was wrong otherwise."""

    input: Input | None = None
    errors: list[UserError] = field(default_factory=list)
    uploads: list[UploadUrl] = field(default_factory=list)


async def _name_taken(owner_id: UUID, name: str) -> bool:
    return await Input.exists(owner_id=owner_id, name=name)


async def create_input(
    store: ObjectStore,
    owner_id: UUID,
    name: str,
    files: Sequence[FileDeclaration],
    limits: InputLimits,
    quota_bytes: int | None = None,
) -> InputResult:
    """Record a PENDING input and hand out one presigned PUT URL per declared file, signed for
    its size and content type; refused when the owner's inputs would exceed `quota_bytes`."""
    declared = validate_input(name, files, limits)
    if isinstance(declared, list):
        return InputResult(errors=declared)
    if await _name_taken(owner_id, declared.name):
        return InputResult(
            errors=[
                UserError("name", f"You already have an input named '{name}'.", ErrorCode.DUPLICATE)
            ]
        )
    if over := await storage_problem(owner_id, declared.total_size, quota_bytes, "files"):
        return InputResult(errors=[over])
    async with in_transaction():
        created = await Input.create(
            name=declared.name,
            owner_id=owner_id,
            total_size=declared.total_size,
            file_count=len(declared.files),
        )
        await InputFile.bulk_create(
            [
                InputFile(input=created, path=f.path, size=f.size, content_type=f.content_type)
                for f in declared.files
            ]
        )
    prefix = upload_prefix(created.id)
    expires_at = datetime.now(UTC) + timedelta(seconds=UPLOAD_URL_TTL)
    uploads = []
    for f in declared.files:
        content_type = f.content_type or DEFAULT_CONTENT_TYPE
        url = await store.presign_put(
            prefix + f.path,
            expires_in=UPLOAD_URL_TTL,
            content_type=content_type,
            content_length=f.size,
        )
        uploads.append(UploadUrl(f.path, url, content_type, expires_at))
    return InputResult(input=created, uploads=uploads)


async def finalize_input(store: ObjectStore, item: Input) -> InputResult:
    """Check that every declared file arrived whole, copy them where runs read them, then make
    the input READY (usable)."""
    if item.status is InputStatus.READY:
        return InputResult(input=item)
    staging, final = upload_prefix(item.id), input_prefix(item.id)
    errors = []
    files = await InputFile.filter(input_id=item.id).order_by("id")
    declared = {f.path for f in files}
    await _delete_undeclared(store, staging, declared)
    await _delete_undeclared(store, final, declared)
    sources: list[tuple[str, str]] = []
    for i, file in enumerate(files):
        found = await _uploaded(store, (staging + file.path, final + file.path))
        if found is None:
            errors.append(
                UserError(
                    f"files.{i}.path", f"'{file.path}' was not uploaded.", ErrorCode.NOT_FOUND
                )
            )
            continue
        key, size = found
        if size != file.size:
            errors.append(
                UserError(
                    f"files.{i}.size",
                    f"'{file.path}' has {size} bytes, not the {file.size} declared.",
                    ErrorCode.INVALID,
                )
            )
        sources.append((key, final + file.path))
    if errors:
        return InputResult(input=item, errors=errors)
    for source, target in sources:
        if source != target:
            await store.copy(source, target)
    item.status = InputStatus.READY
    item.finalized_at = datetime.now(UTC)
    await item.save(update_fields=["status", "finalized_at"])
    await store.delete_prefix(staging)
    return InputResult(input=item)


async def _uploaded(store: ObjectStore, keys: Sequence[str]) -> tuple[str, int] | None:
    """The first of `keys` that exists, with its size: the upload, or a file already in place
    (a URL handed out before uploads were staged, or a copy done by an earlier attempt)."""
    for key in keys:
        try:
            return key, (await store.head(key)).size
        except NotFound:
            continue
    return None


async def _delete_undeclared(store: ObjectStore, prefix: str, declared: set[str]) -> None:
    """Remove objects under `prefix` that are none of the declared files (written with a
    URL of another store's making, or by hand): the input holds exactly what it lists."""
    token: str | None = None
    stray: list[str] = []
    while True:
        page = await store.list(prefix, token=token)
        stray += [o.key for o in page.objects if o.key[len(prefix) :] not in declared]
        if (token := page.next_token) is None:
            break
    for key in stray:
        await store.delete(key)


async def sweep_stray_uploads(store: ObjectStore) -> int:
    """Remove uploads of inputs that are finalized or deleted (written through a URL that had
    not expired yet); returns how many objects went."""
    stray: list[str] = []
    token: str | None = None
    open_inputs: dict[str, bool] = {}
    while True:
        page = await store.list(UPLOADS_ROOT, token=token)
        for obj in page.objects:
            match = _UPLOAD_KEY.match(obj.key)
            input_id = match.group(1) if match else ""
            if input_id not in open_inputs:
                open_inputs[input_id] = await _pending(input_id)
            if not open_inputs[input_id]:
                stray.append(obj.key)
        if (token := page.next_token) is None:
            break
    for key in stray:
        await store.delete(key)
    return len(stray)


async def _pending(input_id: str) -> bool:
    uuid = _uuid(input_id)
    return uuid is not None and await Input.exists(id=uuid, status=InputStatus.PENDING)


async def upload_open(key: str) -> bool:
    """Whether a presigned PUT to `key` may still write: an input's uploads only while that
    input exists and is not finalized, its files never (finalizing writes them); other keys
    are not the inputs' to close."""
    if key.startswith("inputs/"):
        return False
    match = _UPLOAD_KEY.match(key)
    if match is None:
        return True
    return await _pending(match.group(1))


def _uuid(value: str) -> UUID | None:
    try:
        return UUID(value)
    except ValueError:
        return None


async def promote_run_outputs(
    store: ObjectStore, owner_id: UUID, run: Run, name: str
) -> InputResult:
    """A READY input holding a copy of the run's outputs, made inside the store."""
    if not run.status.terminal:
        return InputResult(
            errors=[UserError("runId", "The run has not finished yet.", ErrorCode.INVALID)]
        )
    source = outputs_prefix(run.id)
    objects = []
    token: str | None = None
    while True:
        page = await store.list(source, token=token)
        objects.extend(page.objects)
        if (token := page.next_token) is None:
            break
    declared = validate_input(
        name,
        [
            FileDeclaration(
                o.key[len(source) :],
                o.size,
                mimetypes.guess_type(o.key)[0] or DEFAULT_CONTENT_TYPE,
            )
            for o in objects
        ],
        InputLimits(max_files=100_000, max_total_bytes=1 << 62, max_file_bytes=1 << 62),
    )
    if isinstance(declared, list):
        if not objects:
            return InputResult(
                errors=[UserError("runId", "The run has no outputs.", ErrorCode.NOT_FOUND)]
            )
        return InputResult(errors=[e for e in declared if e.field == "name"] or declared)
    if await _name_taken(owner_id, declared.name):
        return InputResult(
            errors=[
                UserError("name", f"You already have an input named '{name}'.", ErrorCode.DUPLICATE)
            ]
        )
    created = await Input.create(
        name=declared.name,
        owner_id=owner_id,
        total_size=declared.total_size,
        file_count=len(declared.files),
        source_run_id=run.id,
    )
    prefix = input_prefix(created.id)
    try:
        for f in declared.files:
            await store.copy(source + f.path, prefix + f.path)
    except BaseException:
        await store.delete_prefix(prefix)
        await created.delete()
        raise
    await InputFile.bulk_create(
        [
            InputFile(input=created, path=f.path, size=f.size, content_type=f.content_type)
            for f in declared.files
        ]
    )
    created.status = InputStatus.READY
    created.finalized_at = datetime.now(UTC)
    await created.save(update_fields=["status", "finalized_at"])
    return InputResult(input=created)


async def runs_reading(item: Input) -> int:
    """How many unfinished runs read the input (their init containers fetch its files)."""
    jobs = JobInputLink.filter(input_id=item.id).values("job_id")
    return await Run.filter(status__in=list(UNFINISHED), job_id__in=Subquery(jobs)).count()


async def delete_input(store: ObjectStore, item: Input) -> UserError | None:
    """Delete the input's files, then the input, unless unfinished runs read it. Jobs that
    named it keep its name (`Job.inputs`): rerunning them is refused from now on."""
    if reading := await runs_reading(item):
        return UserError(
            "id",
            f"{reading} unfinished run(s) read this input; cancel them or wait until they "
            "end, then delete it.",
            ErrorCode.IN_USE,
        )
    await store.delete_prefix(input_prefix(item.id))
    await store.delete_prefix(upload_prefix(item.id))
    await item.delete()
    return None


def job_input_refs(inputs: Sequence[Input]) -> list[dict[str, str]]:
    """What a Job stores about the inputs it reads, in order (ids and names)."""
    return [{"id": str(i.id), "name": i.name} for i in inputs]


async def inputs_for_job(
    viewer: Viewer, ids: Sequence[UUID | None]
) -> tuple[list[Input], list[UserError]]:
    """The inputs a new Job names, checked: each exists (for this viewer), is READY, and no
    two share a name (each becomes a directory of the same name)."""
    found = {i.id: i for i in await Input.filter(id__in=[i for i in ids if i is not None])}
    inputs: list[Input] = []
    errors: list[UserError] = []
    names: set[str] = set()
    for n, id_ in enumerate(ids):
        where = f"inputIds.{n}"
        item = found.get(id_) if id_ is not None else None
        if item is None or not can_see_input(viewer, item):
            errors.append(UserError(where, "No input with this id.", ErrorCode.NOT_FOUND))
        elif item.status is not InputStatus.READY:
            errors.append(
                UserError(where, f"Input '{item.name}' is not finalized yet.", ErrorCode.INVALID)
            )
        elif item.name in names or item in inputs:
            errors.append(
                UserError(where, f"Input '{item.name}' is named twice.", ErrorCode.DUPLICATE)
            )
        else:
            names.add(item.name)
            inputs.append(item)
    return inputs, errors
