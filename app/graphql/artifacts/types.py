"""GraphQL types of a run's outputs: their upload status and the artifacts connection."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import datetime
from typing import TYPE_CHECKING, NewType

import strawberry
from strawberry import relay

from app.domain.outputs import OutputsStatus
from app.graphql.context import Info
from app.graphql.enums import describe_values
from app.graphql.errors import PublicError
from app.graphql.pagination import decode_cursor, encode_cursor, page_size
from app.services.outputs import list_artifacts, live_outputs_state, outputs_state
from app.sidecar.credentials import outputs_prefix
from app.storage.base import InvalidKey, ObjectInfo

if TYPE_CHECKING:
    from app.graphql.runs.types import RunType

Bytes = strawberry.scalar(
    NewType("Bytes", int),
    serialize=int,
    parse_value=int,
    description="A size in bytes: a JSON integer, beyond GraphQL Int's 32 bits (up to 2^53).",
)

#: Lifetime of an artifact's download URL.
DOWNLOAD_URL_TTL = 900

OutputsStatusEnum = describe_values(
    strawberry.enum(
        OutputsStatus,
        name="OutputsStatus",
        description=(
            "Where a run's outputs are: PENDING until the main container ends, UPLOADING while "
            "the sidecar uploads them, UPLOADED once every file is in object storage, FAILED "
            "otherwise, NONE for a run that ended before it started."
        ),
    ),
    {
        OutputsStatus.PENDING: "The main container has not ended yet.",
        OutputsStatus.UPLOADING: "The sidecar is uploading the output directory.",
        OutputsStatus.UPLOADED: "Every output file is in object storage (see `artifacts`).",
        OutputsStatus.FAILED: "The upload failed; some artifacts may be missing.",
        OutputsStatus.NONE: "The run ended before it started: it has no outputs.",
    },
)


@strawberry.type(name="RunOutputs", description="Whether a run's outputs are safe in storage.")
class RunOutputsType:
    """The outputs' status and a sentence for a person."""

    status: OutputsStatus = strawberry.field(description="Where the outputs are.")
    message: str | None = strawberry.field(description="Details: counts, or why it failed.")


@strawberry.type(name="Artifact", description="A file a run wrote to its output directory.")
class ArtifactType:
    """One uploaded output file."""

    path: str = strawberry.field(description="Path inside the output directory.")
    size: Bytes = strawberry.field(description="Size in bytes.")  # type: ignore[valid-type]
    last_modified: datetime = strawberry.field(description="When it was uploaded.")
    key: strawberry.Private[str]

    @strawberry.field(description="Content type it was stored with.")
    async def content_type(self, info: Info) -> str | None:
        # Listings do not carry it; one HEAD per artifact, only when asked for.
        return (await info.context.platform.store.head(self.key)).content_type

    @strawberry.field(
        description=f"A presigned URL that downloads the file for {DOWNLOAD_URL_TTL} seconds."
    )
    async def download_url(self, info: Info) -> str:
        return await info.context.platform.store.presign_get(
            self.key, expires_in=DOWNLOAD_URL_TTL, filename=self.path.rsplit("/", 1)[-1]
        )

    @classmethod
    def from_info(cls, run_id: str, item: ObjectInfo) -> ArtifactType:
        """Wrap a listed object of the run's outputs."""
        return cls(
            path=item.key[len(outputs_prefix(run_id)) :],
            size=item.size,
            last_modified=item.last_modified,
            key=item.key,
        )


@strawberry.type(name="ArtifactConnection", description="A page of a run's artifacts.")
class ArtifactConnection(relay.Connection[ArtifactType]):  # type: ignore[type-var]
    """Artifacts in path order."""


def resolve_outputs(info: Info, run: RunType) -> RunOutputsType | Awaitable[RunOutputsType]:
    """`Run.outputsStatus`: what was recorded once settled, else what the pod shows now. Only
    an ended run's unsettled outputs need I/O (the manifest): the rest is answered at once, so
    a status change published to many subscribers is executed once for all of them."""
    if run.outputs is not None and run.outputs.status.settled:
        return RunOutputsType(status=run.outputs.status, message=run.outputs.message)
    platform = info.context.platform
    if not run.status.terminal:
        state = live_outputs_state(platform.tracker, run.id, ran=run.ran)
        return RunOutputsType(status=state.status, message=state.message)
    return _read_outputs(info, run)


async def _read_outputs(info: Info, run: RunType) -> RunOutputsType:
    platform = info.context.platform
    state = await outputs_state(platform.store, platform.tracker, run.id, True, ran=run.ran)
    return RunOutputsType(status=state.status, message=state.message)


async def resolve_artifacts(
    info: Info, run: RunType, first: int | None, after: str | None, prefix: str | None
) -> ArtifactConnection:
    """`Run.artifacts`: keyset pages over the run's outputs in the store."""
    size = page_size(first)
    start = str(decode_cursor(after, 1)[0]) if after is not None else None
    try:
        items, more = await list_artifacts(
            info.context.platform.store, run.id, prefix or "", size, start
        )
    except InvalidKey as exc:
        raise PublicError("`prefix` is not a valid path prefix.") from exc
    edges = [
        relay.Edge(cursor=encode_cursor(a.path), node=a)  # type: ignore[type-var]
        for a in (ArtifactType.from_info(run.id, item) for item in items)
    ]
    return ArtifactConnection(
        edges=edges,
        page_info=relay.PageInfo(
            has_next_page=more,
            has_previous_page=after is not None,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
    )
