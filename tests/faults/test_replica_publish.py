"""A replica tells its own `runStatus` subscribers of a change another replica wrote: every
replica observes the same pods, but only one wins each conditional write."""

from __future__ import annotations

import copy

from app.db.models import Run, RunEvent
from app.domain.status import Observation, RunStatus
from app.events.hub import Hub
from app.services.runs import apply_observation, publish, run_topic
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


async def test_a_replica_that_fell_behind_publishes_the_entries_between(api: Api) -> None:
    work = Workload(api, Size(runs=1, lines=3, faults=0, files=0), "behind")
    await work.start()
    report = await work.finish()
    assert report.held, report.text()
    run_id = node_uuid(work.runs[0].id)
    written = await Run.get(id=run_id)
    timeline = await RunEvent.filter(run_id=run_id).order_by("version")
    other: Hub[Run] = Hub()
    first = timeline[0]
    publish(other, _at(written, first.version))  # it told its clients of the submission only
    with other.subscribe(run_topic(run_id)) as feed:
        seen = Observation(RunStatus.COMPLETED, exit_code=0, pod_uid=written.pod_uid)
        assert await apply_observation(other, run_id, seen) is None
        told = feed.drain()
    # Each timeline entry after the submission as the run stood then, then the run now.
    expected = [(event.version, event.status) for event in timeline[1:]]
    if written.version > timeline[-1].version:
        expected.append((written.version, written.status))
    assert [(run.version, run.status) for run in told] == expected
    assert all(run.started_at is None for run in told if run.status is RunStatus.PENDING)


def _at(run: Run, version: int) -> Run:
    then = copy.copy(run)
    then.version = version
    return then
