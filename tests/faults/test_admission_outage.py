"""A run the admission queue admits while the Kubernetes API is unreachable goes back to the
queue and runs once the API is back: it is not left admitted with its Job suspended."""

from __future__ import annotations

import asyncio
import socket

from app.kube.labels import kube_job_name
from tests.faults.report import Size
from tests.faults.workload import Workload
from tests.support.api import Api
from tests.support.graphql import node_uuid
from tests.support.servers import until


def refused(port: int) -> bool:
    """Whether nothing listens on `port` (the simulated API server is down)."""
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


async def test_a_run_admitted_while_the_cluster_is_down_runs_once_it_is_back(api: Api) -> None:
    admission, tracker = api.platform.admission, api.platform.tracker
    assert admission is not None and tracker is not None and admission.running
    work = Workload(api, Size(runs=1, lines=20, faults=1), "admitted-during-outage")
    await admission.set_leading(False)  # the queue holds the run until the cluster is down
    try:
        await work.start()
        await until(lambda: kube_job_name(node_uuid(work.runs[0].id)) in tracker.jobs.cache)
        restart = asyncio.create_task(api.cluster.restart(downtime=1.5))
        await until(lambda: refused(api.cluster.port))
        await admission.set_leading(True)  # a pass now: its Job cannot be let run
        await restart
    finally:
        await admission.set_leading(True)
    report = await work.finish()
    assert report.held, report.text()
