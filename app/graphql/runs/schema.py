"""Query and Subscription fields of the runs domain.

Subscriptions subscribe to the hub first, then read the snapshot, then emit only newer
versions: no change can fall between the snapshot and the live feed.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Annotated
from uuid import UUID

import strawberry
from strawberry import relay

from app.auth.policy import can_see_run
from app.db.models import Run
from app.domain.errors import ErrorCode
from app.events.hub import Lagged
from app.graphql.context import Info
from app.graphql.errors import PublicError, UserErrorType
from app.graphql.nodes import uuid_of
from app.graphql.runs.types import RunType
from app.graphql.streaming import SharedSender, unsent
from app.services.control import cancel_run
from app.services.runs import ALL_RUNS_TOPIC, run_topic


def _over(run: Run) -> bool:
    """Nothing more will change that `runStatus` reports: ended, outputs settled."""
    return run.status.terminal and run.outputs_status is not None and run.outputs_status.settled


def _run_uuid(id_: relay.GlobalID) -> UUID:
    run_id = uuid_of(id_, "Run")
    if run_id is None:
        raise PublicError("No run with this id.")
    return run_id


@strawberry.type
class RunQueries:
    """Reading runs."""

    @strawberry.field(description="A run by id.")
    async def run(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The run's global id.")],
    ) -> RunType | None:
        run_id = uuid_of(id, "Run")
        if run_id is None:
            return None
        (run,) = await RunType.resolve_nodes(info=info, node_ids=[str(run_id)])
        return run


@strawberry.type(name="CancelRunPayload", description="The result of cancelRun.")
class CancelRunPayload:
    """The cancelled run, or why it could not be cancelled."""

    run: RunType | None = strawberry.field(description="The run, CANCELLED, when it was.")
    user_errors: list[UserErrorType] = strawberry.field(
        description="Problems with the input; empty on success."
    )


@strawberry.type
class RunMutations:
    """Controlling runs."""

    @strawberry.mutation(
        description=(
            "Cancel an unfinished run (queued, pending or running): it becomes CANCELLED at "
            "once, and its pod is stopped with its grace period, so what it wrote is still "
            "uploaded. ALREADY_FINISHED for a run that has ended."
        )
    )
    async def cancel_run(
        self,
        info: Info,
        run_id: Annotated[strawberry.ID, strawberry.argument(description="The run to cancel.")],
    ) -> CancelRunPayload:
        viewer = info.context.viewer
        assert viewer is not None  # the guard refuses anonymous mutations
        run_uuid = uuid_of(run_id, "Run")
        run = await Run.get_or_none(id=run_uuid) if run_uuid is not None else None
        if run is None or not can_see_run(viewer, run):
            error = UserErrorType(
                field="runId", message="No run with this id.", code=ErrorCode.NOT_FOUND
            )
            return CancelRunPayload(run=None, user_errors=[error])
        platform = info.context.platform
        refused = await cancel_run(
            platform.kube, platform.hub, platform.settings.namespace, run, by=viewer.email
        )
        return CancelRunPayload(
            run=RunType.from_model(run),
            user_errors=[UserErrorType.from_domain(refused)] if refused else [],
        )


@strawberry.type
class RunSubscriptions:
    """Live runs."""

    @strawberry.subscription(
        description=(
            "The run's current state, then every change (its status, and where its outputs "
            "are); ends once the run has ended and its outputs are settled, so artifacts can "
            "be listed at once."
        )
    )
    async def run_status(
        self,
        info: Info,
        run_id: Annotated[
            relay.GlobalID, strawberry.argument(description="The global id of the run to follow.")
        ],
    ) -> AsyncGenerator[RunType, None]:
        run_uuid = _run_uuid(run_id)
        hub = info.context.platform.hub
        with hub.subscribe(run_topic(run_uuid)) as feed:
            run = await Run.get_or_none(id=run_uuid)
            if run is None or not can_see_run(info.context.viewer, run):
                raise PublicError("No run with this id.")
            # Changes are sent by the sender, most of them straight from the publisher's task
            # while this one waits (app.graphql.streaming); the last one, which ends the
            # subscription, and any the sender cannot send, come here and are yielded.
            sender = SharedSender.current()
            yield RunType.from_model(run)
            version = run.version

            def deliver(changed: Run) -> bool:
                nonlocal version
                if changed.version <= version:
                    return True  # told already (or older): nothing to send
                if _over(changed) or sender is None:
                    return False
                if not sender.send_now(RunType.for_event(changed)):
                    return False
                version = changed.version
                return True

            async def changes(run: Run) -> AsyncGenerator[RunType, None]:
                nonlocal version
                while not _over(run):
                    try:
                        batch = await feed.next_batch()
                    except Lagged:
                        batch = [await Run.get(id=run_uuid)]
                    for changed in batch:
                        if changed.version > version:
                            run, version = changed, changed.version
                            yield RunType.for_event(run)
                            if _over(run):
                                return

            feed.deliver = deliver
            try:
                async with aclosing(unsent(sender, changes(run))) as events:
                    async for event in events:
                        yield event
            finally:
                feed.deliver = None

    @strawberry.subscription(description="Every change of every run, for dashboards.")
    async def runs_changed(self, info: Info) -> AsyncGenerator[RunType, None]:
        hub = info.context.platform.hub
        with hub.subscribe(ALL_RUNS_TOPIC) as feed:
            while True:
                try:
                    batch = await feed.next_batch()
                except Lagged:
                    continue  # a dashboard refetches its lists; newer changes keep coming
                for run in batch:
                    if can_see_run(info.context.viewer, run):
                        yield RunType.for_event(run)
