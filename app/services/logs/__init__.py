"""Run logs: one follower per (pod, container), a line store with cursors, fan-out, archives.

Every container of a run's pod is followed by the holder of the logs Lease, each line stored in
the database with a per-run cursor before it is published to the run's subscribers, and the
whole log archived to object storage once the run has ended. The parts, each saying why it is
the way it is:

- `store.py`: lines and streams in the database, cursors (`seq`).
- `follow.py`: one follower per (pod, container), resumed after a restart.
- `write.py`: each run's writer, numbering, storing then publishing lines in `seq` order.
- `publish.py`: batches shared by every subscriber, and each run's in-memory window.
- `subscribe.py`: a subscriber's backlog then live batches, without races or lost lines.
- `tail.py`: subscribers served from the database on a replica that does not lead.
- `archive.py`: the whole log written to object storage, and its download.
- `cap.py`: the cap on a run's stored lines.
- `core.py` and `service.py`: the state the parts share, and `LogService`, which ties them
  together under the logs Lease.
"""

from app.services.logs.archive import DOWNLOAD_URL_SECONDS, archive_key
from app.services.logs.cap import DEFAULT_MAX_LINES, cut_notice
from app.services.logs.core import SUBSCRIBER_BUFFER
from app.services.logs.publish import (
    MAX_BATCH,
    Item,
    LogBatch,
    LogComplete,
    _RunLog,
    log_topic,
)
from app.services.logs.service import LogService
from app.services.logs.store import BACKLOG_BATCH, StoredLine

__all__ = [
    "BACKLOG_BATCH",
    "DEFAULT_MAX_LINES",
    "DOWNLOAD_URL_SECONDS",
    "MAX_BATCH",
    "SUBSCRIBER_BUFFER",
    "Item",
    "LogBatch",
    "LogComplete",
    "LogService",
    "StoredLine",
    "_RunLog",
    "archive_key",
    "cut_notice",
    "log_topic",
]
