"""Query and Mutation fields of inputs."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import strawberry

from app.auth.policy import can_see_input, can_see_run, visible
from app.db.models import Run
from app.db.storage_models import Input
from app.domain.errors import ErrorCode, UserError
from app.domain.inputs import FileDeclaration, InputLimits
from app.graphql.context import Info
from app.graphql.errors import UserErrorType
from app.graphql.inputs.types import (
    CreateInputInput,
    CreateInputPayload,
    DeleteInputPayload,
    InputConnection,
    InputPayload,
    InputType,
    UploadUrlType,
)
from app.graphql.nodes import uuid_of
from app.graphql.pagination import (
    After,
    First,
    newest_first,
)
from app.services.inputs import (
    InputResult,
    create_input,
    delete_input,
    finalize_input,
    promote_run_outputs,
)

InputId = Annotated[strawberry.ID, strawberry.argument(description="The input's id.")]


def _viewer_id(info: Info) -> UUID:
    viewer = info.context.viewer
    assert viewer is not None  # the guard refuses anonymous operations
    return viewer.user_id


async def _visible_input(info: Info, id_: str) -> Input | None:
    input_id = uuid_of(id_, "Input")
    item = await Input.get_or_none(id=input_id) if input_id else None
    return item if item is not None and can_see_input(info.context.viewer, item) else None


def _payload(result: InputResult) -> InputPayload:
    return InputPayload(
        input=InputType.from_model(result.input) if result.input else None,
        user_errors=[UserErrorType.from_domain(e) for e in result.errors],
    )


_NOT_FOUND = UserErrorType(field="id", message="No input with this id.", code=ErrorCode.NOT_FOUND)


@strawberry.type
class InputQueries:
    """Reading inputs."""

    @strawberry.field(description="Inputs the viewer can use, newest first.")
    async def inputs(self, info: Info, first: First = None, after: After = None) -> InputConnection:
        query = visible(info.context.viewer, Input.all())
        return await newest_first(  # type: ignore[return-value]
            InputConnection, query, first, after, InputType.from_model
        )

    @strawberry.field(description="An input by id.")
    async def input(self, info: Info, id: InputId) -> InputType | None:
        item = await _visible_input(info, id)
        return InputType.from_model(item) if item else None


@strawberry.type
class InputMutations:
    """Changing inputs."""

    @strawberry.mutation(
        description="Declare an input's files; returns one presigned PUT URL per file. Upload "
        "them, then call finalizeInput."
    )
    async def create_input(
        self,
        info: Info,
        input: Annotated[
            CreateInputInput, strawberry.argument(description="The input's name and files.")
        ],
    ) -> CreateInputPayload:
        declared = []
        for f in input.files:
            size = int(f.size)
            declared.append(FileDeclaration(f.path, size, f.content_type))
        platform = info.context.platform
        result = await create_input(
            platform.store,
            _viewer_id(info),
            input.name,
            declared,
            InputLimits(),
            quota_bytes=platform.settings.storage_quota_bytes_per_user,
        )
        return CreateInputPayload(
            input=InputType.from_model(result.input) if result.input else None,
            uploads=[
                UploadUrlType(
                    path=u.path, url=u.url, content_type=u.content_type, expires_at=u.expires_at
                )
                for u in result.uploads
            ],
            user_errors=[UserErrorType.from_domain(e) for e in result.errors],
        )

    @strawberry.mutation(
        description="Check that every declared file was uploaded with its size; the input "
        "becomes READY."
    )
    async def finalize_input(self, info: Info, id: InputId) -> InputPayload:
        item = await _visible_input(info, id)
        if item is None:
            return InputPayload(input=None, user_errors=[_NOT_FOUND])
        return _payload(await finalize_input(info.context.platform.store, item))

    @strawberry.mutation(
        description="Make a finished run's outputs a READY input, copied inside the store."
    )
    async def promote_run_outputs(
        self,
        info: Info,
        run_id: Annotated[strawberry.ID, strawberry.argument(description="A finished run.")],
        name: Annotated[str, strawberry.argument(description="The new input's name.")],
    ) -> InputPayload:
        uuid = uuid_of(run_id, "Run")
        run = await Run.get_or_none(id=uuid) if uuid else None
        if run is None or not can_see_run(info.context.viewer, run):
            error = UserError("runId", "No run with this id.", ErrorCode.NOT_FOUND)
            return _payload(InputResult(errors=[error]))
        return _payload(
            await promote_run_outputs(info.context.platform.store, _viewer_id(info), run, name)
        )

    @strawberry.mutation(
        description=(
            "Delete an input and its files; refused (IN_USE) while unfinished runs read it. "
            "Jobs that read it can no longer be rerun."
        )
    )
    async def delete_input(self, info: Info, id: InputId) -> DeleteInputPayload:
        item = await _visible_input(info, id)
        if item is None:
            return DeleteInputPayload(deleted_id=None, user_errors=[_NOT_FOUND])
        if error := await delete_input(info.context.platform.store, item):
            return DeleteInputPayload(
                deleted_id=None, user_errors=[UserErrorType.from_domain(error)]
            )
        return DeleteInputPayload(deleted_id=id, user_errors=[])
