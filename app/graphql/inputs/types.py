"""GraphQL types of inputs: the Input node, its files, the connection, and mutation payloads."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from uuid import UUID

import strawberry
from strawberry import relay

from app.auth.policy import can_see_input
from app.db.storage_models import Input, InputFile, InputStatus
from app.graphql.artifacts.types import Bytes
from app.graphql.context import Info
from app.graphql.enums import describe_values
from app.graphql.errors import UserErrorType
from app.graphql.nodes import load_visible

InputStatusEnum = describe_values(
    strawberry.enum(
        InputStatus,
        name="InputStatus",
        description="PENDING while its files are uploaded; READY once finalized (usable by Jobs).",
    ),
    {
        InputStatus.PENDING: "Files are being uploaded; Jobs cannot use it yet.",
        InputStatus.READY: "Finalized and immutable; Jobs can use it.",
    },
)


@strawberry.type(name="InputFile", description="One file of an input.")
class InputFileType:
    """A file, as declared and checked at finalization."""

    path: str = strawberry.field(description="Path inside the input (and its directory).")
    size: Bytes = strawberry.field(description="Size in bytes.")  # type: ignore[valid-type]
    content_type: str = strawberry.field(description="Content type it is stored with.")


@strawberry.type(
    name="Input",
    description="A named set of files in object storage, read-only in the runs of Jobs naming it "
    "(at `$WALKAI_INPUT_DIR/<name>/`).",
)
class InputType(relay.Node):
    """An input as clients see it."""

    id: relay.NodeID[str]
    name: str = strawberry.field(description="Name, also the directory name inside runs.")
    status: InputStatus = strawberry.field(description="Whether it can be used yet.")
    total_size: Bytes = strawberry.field(description="Bytes over every file.")  # type: ignore[valid-type]
    file_count: int = strawberry.field(description="How many files it has.")
    created_at: datetime = strawberry.field(description="When it was created.")
    finalized_at: datetime | None = strawberry.field(description="When it became READY.")

    @strawberry.field(description="Its files, in path order.")
    async def files(self, info: Info) -> list[InputFileType]:
        rows = await InputFile.filter(input_id=UUID(self.id)).order_by("path")
        return [InputFileType(path=f.path, size=f.size, content_type=f.content_type) for f in rows]

    @classmethod
    def from_model(cls, item: Input) -> InputType:
        """Wrap a stored input."""
        return cls(
            id=str(item.id),
            name=item.name,
            status=item.status,
            total_size=item.total_size,
            file_count=item.file_count,
            created_at=item.created_at,
            finalized_at=item.finalized_at,
        )

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[InputType | None]:
        viewer = info.context.viewer
        inputs = await load_visible(Input, node_ids, lambda i: can_see_input(viewer, i))
        return [cls.from_model(i) if i else None for i in inputs]


@strawberry.type(name="InputConnection", description="A page of inputs.")
class InputConnection(relay.Connection[InputType]):
    """Inputs, newest first."""


@strawberry.type(name="UploadUrl", description="Where to PUT one declared file.")
class UploadUrlType:
    """A presigned PUT URL for one file."""

    path: str = strawberry.field(description="The declared path.")
    url: str = strawberry.field(description="PUT the file's bytes here.")
    content_type: str = strawberry.field(
        description="Send exactly this Content-Type header (the URL is signed with it)."
    )
    expires_at: datetime = strawberry.field(description="The URL stops working after this.")


@strawberry.input(name="InputFileInput", description="A file about to be uploaded.")
class InputFileInput:
    """Declared path, size and content type."""

    path: str = strawberry.field(description="Relative path, `/`-separated, no `..`.")
    size: Bytes = strawberry.field(description="Exact size in bytes.")  # type: ignore[valid-type]
    content_type: str | None = strawberry.field(
        default=None, description="A registered content type; default: from the extension."
    )


@strawberry.input(name="CreateInputInput", description="A new input and the files it will hold.")
class CreateInputInput:
    """Name and files."""

    name: str = strawberry.field(description="1 to 63 letters, digits, '.', '_' or '-'.")
    files: list[InputFileInput] = strawberry.field(description="Every file, declared up front.")


@strawberry.type(name="CreateInputPayload", description="The result of createInput.")
class CreateInputPayload:
    """The PENDING input and one upload URL per file; then call finalizeInput."""

    input: InputType | None = strawberry.field(description="The input, when it was created.")
    uploads: list[UploadUrlType] = strawberry.field(description="One presigned PUT per file.")
    user_errors: list[UserErrorType] = strawberry.field(description="Empty on success.")


@strawberry.type(name="InputPayload", description="The result of a change to an input.")
class InputPayload:
    """The input after the change, or what was wrong."""

    input: InputType | None = strawberry.field(description="The input.")
    user_errors: list[UserErrorType] = strawberry.field(description="Empty on success.")


@strawberry.type(name="DeleteInputPayload", description="The result of deleteInput.")
class DeleteInputPayload:
    """The deleted input's id, or what was wrong."""

    deleted_id: strawberry.ID | None = strawberry.field(description="Id of the deleted input.")
    user_errors: list[UserErrorType] = strawberry.field(description="Empty on success.")
