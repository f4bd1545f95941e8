"""A replica tells its own `runStatus` subscribers of a change another replica wrote: every
replica observes the same pods, but only one wins each conditional write."""

from __future__ import annotations

from app.db.models import Run
from app.domain.status import Observation, RunStatus
from app.events.hub import Hub
from app.services.runs import apply_observation, run_topic
from tests.faults.report import Size
from tests.faults.workload import Workload
from tests.support.api import Api
from tests.support.graphql import node_uuid


async def test_a_replica_publishes_a_change_another_wrote_once(api: Api) -> None:
    work = Workload(api, Size(runs=1, lines=3, faults=0, files=0), "written-elsewhere")
    await work.start()
    report = await work.finish()
    assert report.held, report.text()
    run_id = node_uuid(work.runs[0].id)
    written = await Run.get(id=run_id)
    other: Hub[Run] = Hub()  # the hub of a replica whose writes all lost
    with other.subscribe(run_topic(run_id)) as feed:
        for _ in range(2):  # it observes the run end, then sees its pod again
            seen = Observation(RunStatus.COMPLETED, exit_code=0, pod_uid=written.pod_uid)
            assert await apply_observation(other, run_id, seen) is None
        told = feed.drain()
    assert [(run.status, run.version) for run in told] == [(RunStatus.COMPLETED, written.version)]
