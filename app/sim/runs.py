"""What `walkai-jobs dev` records for the runs its simulated cluster was running when it stopped.

The simulated cluster keeps its objects in memory: once `dev` stops, every run's Kubernetes Job
is gone, and nothing would ever move an unfinished run in the database again. As a real cluster
reports the pods of a node that shut down, those runs end FAILED with reason `NodeShutdown`;
`dev` records it when it stops, or, if it was killed or crashed, on its next start.
"""

from __future__ import annotations

from app.db.models import Run
from app.domain.status import UNFINISHED, RunStatus
from app.events.hub import Hub
from app.services.runs import end_run

NODE_SHUTDOWN = "NodeShutdown"
_RERUN = " The simulated cluster keeps no state across restarts: rerun the Job to run it again."
STOPPED = (
    "The node went away: walkai-jobs dev stopped while this run was unfinished, and its "
    "containers were stopped." + _RERUN
)
LOST = (
    "The node went away: walkai-jobs dev ended without shutting down (killed or crashed) while "
    "this run was unfinished; its containers were stopped when dev started again." + _RERUN
)


async def fail_unfinished_runs(message: str) -> int:
    """End every unfinished run FAILED with reason `NodeShutdown`; returns how many."""
    hub: Hub[Run] = Hub()
    ended = 0
    for run in await Run.filter(status__in=list(UNFINISHED)):
        if await end_run(hub, run, RunStatus.FAILED, NODE_SHUTDOWN, message):
            ended += 1
    return ended
