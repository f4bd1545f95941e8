"""Query and Subscription fields of the runs domain.

Subscriptions subscribe to the hub first, then read the snapshot, then emit only newer
versions: no change can fall between the snapshot and the live feed.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Annotated
from uuid import UUID

import strawberry
from strawberry import relay

from app.auth.policy import can_see_run
from app.db.models import Run
from app.events.hub import Lagged
from app.graphql.context import Info
from app.graphql.errors import PublicError
from app.graphql.nodes import parse_uuid
from app.graphql.runs.types import RunType
from app.services.runs import ALL_RUNS_TOPIC, run_topic


def _run_uuid(id_: relay.GlobalID) -> UUID:
    run_id = parse_uuid(id_.node_id) if id_.type_name == "Run" else None
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
        id: Annotated[relay.GlobalID, strawberry.argument(description="The run's global id.")],
    ) -> RunType | None:
        if id.type_name != "Run":
            return None
        (run,) = await RunType.resolve_nodes(info=info, node_ids=[id.node_id])
        return run


@strawberry.type
class RunSubscriptions:
    """Live runs."""

    @strawberry.subscription(
        description="The run's current state, then every change; ends after a final status."
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
            yield RunType.from_model(run)
            version = run.version
            while not run.status.terminal:
                try:
                    batch = await feed.next_batch()
                except Lagged:
                    batch = [await Run.get(id=run_uuid)]
                for changed in batch:
                    if changed.version > version:
                        run, version = changed, changed.version
                        yield RunType.from_model(run)
                        if run.status.terminal:
                            break

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
                        yield RunType.from_model(run)
