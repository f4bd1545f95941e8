"""Run logs: one follower per (pod, container), a line store with cursors, fan-out, archives.

Decisions (the why):

- **Where lines live.** In the database, one row per line (`app.db.log_models.LogLine`), inserted
  in batches as they arrive and kept after the run ends. An API restart loses nothing, paging is
  a keyset query on `(run, seq)` that never reads a log whole, and a live run pages exactly like
  an archived one. At the end the log is also written to object storage
  (`runs/<run-id>/logs/<container>.log`, `<timestamp> <text>` per line, as `kubectl logs
  --timestamps` prints) and its keys recorded in `LogArchive`: that is the download.
- **Cursors.** A per-run sequence number (`seq`, from 1, across containers and attempts),
  opaque to clients. One writer task per run allocates it, stores and publishes, so every
  subscriber sees a run's lines in one order, the order of `seq`; a filtered subscriber simply
  sees gaps. Restarted, the service continues after the highest stored `seq`.
- **Followers.** Started from the pod watch for every container (init containers and sidecars
  included) that runs or ran, one per (pod, container) whatever the number of subscribers, zero
  included: logs are kept when nobody watches. A preempted run's next pod is the next
  `attempt`; earlier attempts' lines stay. A stream read whole is recorded (`LogStream.ended`),
  so a restart resumes only unfinished ones, with `sinceTime` and de-duplication.
- **Batching and fan-out.** Followers hand what each read returned to the run's writer and
  read on; the writer stores what is pending (up to `STORE_LINES` at a time) with one
  `executemany` (no model object per row), then publishes it in batches of one container and at
  most `MAX_BATCH` lines, at most once per `LINGER_SECONDS` unless more is waiting. A quiet
  log goes out line by line at once; a fast one as a few large messages, which is what fan-out
  to many websockets needs (DESIGN.md: per-message cost dominates). The linger counts from
  when the previous batch was taken, so storing and fanning it out is part of it. One
  `LogBatch` object goes to every subscriber of the run's topic; its GraphQL result is executed
  and serialized once per selection and shared (`app/graphql/execution.py`), and a subscriber
  waiting for it is handed it in the writer's task (`follow(send=…)`): it is written to the
  websocket there, without waking the subscriber's own task (`app/graphql/streaming.py`).
- **Stored, then published.** Publishing a batch as soon as it has its numbers, with the
  INSERT behind it, would save the INSERT's few milliseconds of latency, but a crash between
  the two would have shown clients lines that were never stored: the restarted follower reads
  them again from Kubernetes and numbers them afresh, and with two containers interleaving the
  numbers can differ, so a client resuming from its cursor would see duplicates or gaps. So a
  batch is published only once stored: whatever a client saw survives any restart, and what
  was pending when the process died was seen by nobody and is simply read again.
- **Bounded queues.** Each subscriber buffers at most `SUBSCRIBER_BUFFER` batches. One that
  falls behind is dropped from the live feed (`Lagged`), catches up after its own cursor, and
  its next batch says `lagged`: it never slows the follower or anyone else. It catches up from
  the run's **window** (the latest `WINDOW_LINES` lines' batches, bounded in characters too) if
  the window reaches back to its cursor, else from the database: with many subscribers on a
  busy log, falling behind by a few batches costs a few list operations, not a query each.
  Batches from the window are the published objects, so they stay shared (a lagged subscriber
  gets the batch's `lagged` twin, shared as well). The window is dropped once the run is
  archived.
- **Subscriptions without races.** Subscribe to the topic, then read the backlog after the
  client's cursor (window or database), then emit live batches newer than what was sent;
  batches are stored before they are published and published in `seq` order, so a line is
  always in the database or the window, or in the feed.
- **Replicas.** Only the holder of the logs Lease (`app.kube.lease`, set by the platform)
  follows pods and archives: two followers of one pod would number the same lines twice. A
  replica that does not lead serves its subscribers from the database: while a run has
  subscribers there, it reads the lines the leader stored every `TAIL_SECONDS` and publishes
  them as the writer would (`_tail`). A subscriber that sees a gap in `seq` (lines stored while
  leadership moved) reads it from the database before going on. A leader that steps down
  stops its followers, stores and publishes what they read, then lets the Lease go; the next
  one resumes every unfinished stream as after a restart.
- **Archive.** When the run is terminal and every one of its streams ended: the archive is
  written, `LogArchive` recorded, and subscribers told the log is complete. The platform never
  deletes Kubernetes Jobs today; a future cleanup must wait for `LogArchive` to exist (and for
  no follower of the run to be active) before deleting the Job, or the tail of a log is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import functools
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from kubernetes_asyncio import client
from tortoise.expressions import Subquery

from app.db.log_models import LogArchive, LogLine, LogStream
from app.db.models import Run
from app.domain.status import TERMINAL
from app.events.hub import Hub, Lagged
from app.kube.labels import RUN_ID, kube_job_name
from app.kube.logfollower import Dedup, LogFollower, RawLine
from app.services.log_cap import DEFAULT_MAX_LINES, capped
from app.services.runs import ALL_RUNS_TOPIC
from app.services.tracker import RunTracker
from app.storage.base import ObjectStore

log = logging.getLogger(__name__)

MAX_BATCH = 500
# A run's lines are published at most this often: under load, fewer and larger messages.
LINGER_SECONDS = 0.03
# Lines handed to a run's writer and not stored yet, beyond which its followers wait.
PENDING_LINES = 20_000
# A burst is stored in statements of at most this many lines (about 15 ms on SQLite), each
# published once stored: its first lines go out while the rest is being written.
STORE_LINES = 2000
BACKLOG_BATCH = 500
# How often a replica that does not lead looks for new lines of a run it has subscribers to.
TAIL_SECONDS = 0.2
# A leader stepping down waits at most this long for its writers and archives (the Lease's
# renew deadline is 10 s, its duration 15 s).
STEP_DOWN_SECONDS = 4.0
SUBSCRIBER_BUFFER = 64
# The latest published lines of each live run kept in memory: a subscriber that falls behind by
# less than this (or joins late by less) catches up from memory instead of the database.
WINDOW_LINES = 8192
WINDOW_CHARS = 8 * 1024 * 1024
# Followers hold one HTTP connection each for as long as their container runs.
FOLLOWER_CONNECTIONS = 1000
DOWNLOAD_URL_SECONDS = 3600

Obj = dict[str, Any]


_TOPIC_PREFIX = "logs:"


def log_topic(run_id: UUID | str) -> str:
    """The hub topic carrying one run's log batches."""
    return f"{_TOPIC_PREFIX}{run_id}"


def archive_key(run_id: UUID | str, container: str) -> str:
    """Where a container's whole log is archived."""
    return f"runs/{run_id}/logs/{container}.log"


@dataclass(frozen=True, slots=True)
class StoredLine:
    """A stored line: its per-run sequence number (the cursor), origin, timestamp and text."""

    seq: int
    container: str
    attempt: int
    ts: str
    text: str


@dataclass(eq=False)
class LogBatch:
    """Lines of a run in `seq` order, published once and shared by every subscriber."""

    run_id: str
    lines: list[StoredLine]
    # Set on the first batch a subscriber gets after falling behind (and catching up).
    lagged: bool = False
    # Whatever the GraphQL layer derives from the batch, computed once for all subscribers.
    shared: dict[Any, Any] = field(default_factory=dict)

    @property
    def last_seq(self) -> int:
        """The cursor of the batch's last line (0 when empty)."""
        return self.lines[-1].seq if self.lines else 0


@dataclass(frozen=True)
class LogComplete:
    """Published once the run's log is whole and archived: nothing more will come after
    `last_seq`, so a subscriber that has seen it is done without asking the database."""

    run_id: str
    last_seq: int


Item = LogBatch | LogComplete


class _RunLog:
    """A run's log in this process: the next `seq`, the lines waiting for the run's writer (the
    one task that numbers, stores and publishes them, in `seq` order), and the window of the
    latest published batches (where lagged and new subscribers catch up)."""

    def __init__(self, next_seq: int) -> None:
        self.next_seq = next_seq
        self.followers = 0
        # Lines handed over by the run's followers, not stored yet; the task that stores them.
        self.pending: list[tuple[str, int, list[RawLine]]] = []
        self.pending_lines = 0
        self.writer: asyncio.Task[None] | None = None
        self.wake = asyncio.Event()
        self.idle = asyncio.Event()
        self.idle.set()
        self.last_publish = 0.0
        # Published batches, contiguous in `seq`, oldest first; bounded in lines and characters.
        self.window: deque[LogBatch] = deque()
        self._window_lines = 0
        self._window_chars = 0

    def remember(self, batch: LogBatch) -> None:
        """Add a just-published batch; forget the oldest ones beyond the window's bounds."""
        self.window.append(batch)
        self._window_lines += len(batch.lines)
        self._window_chars += sum(len(line.text) for line in batch.lines)
        while len(self.window) > 1 and (
            self._window_lines > WINDOW_LINES or self._window_chars > WINDOW_CHARS
        ):
            old = self.window.popleft()
            self._window_lines -= len(old.lines)
            self._window_chars -= sum(len(line.text) for line in old.lines)

    def forget(self) -> None:
        """Drop the window (the log is archived: nobody lags behind a live log any more)."""
        self.window.clear()
        self._window_lines = self._window_chars = 0

    def since(self, after: int) -> list[LogBatch] | None:
        """Every published batch with lines after `after`, if the window reaches back to it
        (None: older lines are only in the database)."""
        if not self.window or self.window[0].lines[0].seq > after + 1:
            # Nothing published after the cursor (a subscriber at the head): nothing to read.
            return [] if self.next_seq and after >= self.next_seq - 1 else None
        return [batch for batch in self.window if batch.last_seq > after]


def _take(
    pending: list[tuple[str, int, list[RawLine]]], limit: int
) -> tuple[list[tuple[str, int, list[RawLine]]], int]:
    """The oldest groups of pending lines, up to `limit` lines (at least one group), removed."""
    taken, count = 0, 0
    while taken < len(pending) and (not taken or count + len(pending[taken][2]) <= limit):
        count += len(pending[taken][2])
        taken += 1
    groups = pending[:taken]
    del pending[:taken]
    return groups, count


def _split(lines: list[StoredLine]) -> list[list[StoredLine]]:
    """Lines in `seq` order as batches: one container and attempt each, at most MAX_BATCH."""
    batches: list[list[StoredLine]] = []
    for line in lines:
        last = batches[-1][-1] if batches else None
        if (
            last is None
            or (last.container, last.attempt) != (line.container, line.attempt)
            or len(batches[-1]) >= MAX_BATCH
        ):
            batches.append([])
        batches[-1].append(line)
    return batches


async def _last_seq(run_id: str) -> int:
    """The run's highest stored `seq` (0 before its first line)."""
    newest = LogLine.filter(run_id=run_id).order_by("-seq").first()
    seq: Any = await newest.values_list("seq", flat=True)
    return int(seq) if seq is not None else 0


async def _insert_lines(run_id: str, lines: list[StoredLine]) -> None:
    """One INSERT of many rows (`executemany`, in one transaction): no model object per row."""
    db = LogLine._meta.db
    columns = ("run_id", "seq", "container", "attempt", "ts", "text")
    if db.capabilities.dialect == "postgres":
        marks = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
    else:
        marks = ", ".join("?" * len(columns))
    sql = f"INSERT INTO log_line ({', '.join(columns)}) VALUES ({marks})"
    await db.execute_many(
        sql, [[run_id, s.seq, s.container, s.attempt, s.ts, s.text] for s in lines]
    )


def _container_names(pod: Obj) -> list[tuple[str, bool]]:
    """(name, ran-or-runs) for every init container, sidecar and container of a pod."""
    status = pod.get("status") or {}
    found = []
    for cs in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
        state = cs.get("state") or {}
        started = "running" in state or "terminated" in state or bool(cs.get("lastState"))
        found.append((cs["name"], started))
    return found


def _terminated(pod: Obj, container: str) -> bool:
    status = pod.get("status") or {}
    for cs in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
        if cs.get("name") == container:
            return "terminated" in (cs.get("state") or {})
    return False


class LogService:
    """Followers, the line store and the log topics of every run this process follows."""

    def __init__(
        self,
        store: ObjectStore,
        *,
        buffer: int = SUBSCRIBER_BUFFER,
        max_lines: int = DEFAULT_MAX_LINES,
    ) -> None:
        self.store = store
        # Lines stored per run at most (`app.services.log_cap`).
        self.max_lines = max_lines
        self.hub: Hub[Item] = Hub(buffer)
        # Batches a subscriber may have queued before it counts as lagging.
        self.buffer = buffer
        self._api: client.ApiClient | None = None
        self._namespace = ""
        self._tracker: RunTracker | None = None
        self._runs: dict[str, _RunLog] = {}
        self._run_locks: dict[str, asyncio.Lock] = {}
        # (pod uid, container) -> its follower task; and those known to be read whole.
        self.followers: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._ended: set[tuple[str, str]] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._watch: asyncio.Task[None] | None = None
        self._stopping = False
        # Whether this replica holds the logs Lease: only then does it follow pods and archive
        # (`set_leading`); otherwise its subscribers' lines come from the database (`_tail`).
        self.leading = False
        self._tailers: dict[str, asyncio.Task[None]] = {}
        self._archiving: set[asyncio.Task[Any]] = set()  # archives under way

    # -- lifecycle --------------------------------------------------------------------------

    def start(
        self, api: client.ApiClient, namespace: str, tracker: RunTracker, runs_hub: Hub[Run]
    ) -> None:
        """Follow the pods `tracker` watches; archive runs as `runs_hub` tells their end."""
        configuration = copy.copy(api.configuration)
        configuration.connection_pool_maxsize = FOLLOWER_CONNECTIONS
        self._api = client.ApiClient(configuration=configuration)
        self._namespace = namespace
        self._tracker = tracker
        tracker.pod_listeners.append(self.on_pod)
        self._watch = asyncio.create_task(self._watch_runs(runs_hub), name="logs-runs")

    async def stop(self) -> None:
        """Stop every follower (a restart resumes them from what is stored)."""
        self._stopping = True
        tasks = [*self.followers.values(), *self._tasks]
        if self._watch is not None:
            tasks.append(self._watch)
        # Until nothing is left: a follower ending meanwhile may have spawned an archive task
        # (none may touch the database once it is closed).
        while tasks:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            tasks = [*self.followers.values(), *self._tasks]
        self._stopping = False
        self.followers.clear()
        self._tasks.clear()
        self._tailers.clear()
        # Sequence numbers are read from the database again: an insert may have been cut short.
        self._runs.clear()
        if self._api is not None:
            await self._api.close()
            self._api = None

    async def sweep(self) -> None:
        """Archive every terminal run not archived yet (on start, once the pods are listed)."""
        pending = Run.filter(status__in=list(TERMINAL)).exclude(
            id__in=Subquery(LogArchive.all().values("run_id"))
        )
        for run_id in await pending.values_list("id", flat=True):
            await self._maybe_archive(str(run_id))

    # -- following --------------------------------------------------------------------------

    async def on_pod(self, kind: str, pod: Obj) -> None:
        """Pod watch handler: start a follower for each container that runs or ran."""
        meta = pod.get("metadata") or {}
        run_id = (meta.get("labels") or {}).get(RUN_ID)
        uid = meta.get("uid")
        if run_id is None or uid is None or self._api is None or not self.leading:
            return
        for container, started in _container_names(pod):
            key = (uid, container)
            if kind == "DELETED":
                self._ended.discard(key)
                continue
            if started and key not in self.followers and key not in self._ended:
                task = asyncio.create_task(
                    self._follow(run_id, pod, container), name=f"log-{meta.get('name')}-{container}"
                )
                self.followers[key] = task
                self._run(run_id).followers += 1
                task.add_done_callback(functools.partial(self._follower_done, key, run_id))

    def active_followers(self, run_id: UUID | str) -> int:
        """How many containers of the run are being followed now."""
        run = self._runs.get(str(run_id))
        return run.followers if run is not None else 0

    def _run(self, run_id: str) -> _RunLog:
        run = self._runs.get(run_id)
        if run is None:
            run = self._runs[run_id] = _RunLog(next_seq=0)  # 0: not read from the database yet
        return run

    def _follower_done(self, key: tuple[str, str], run_id: str, _: object) -> None:
        task = self.followers.pop(key, None)
        self._run(run_id).followers -= 1
        if task is not None and not task.cancelled():
            if task.exception() is None:
                self._ended.add(key)
            else:
                log.error("log follower %s failed", key, exc_info=task.exception())
            self._spawn(self._maybe_archive(run_id))

    def _spawn(self, coro: Any) -> None:
        if self._stopping:
            coro.close()
            return
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _follow(self, run_id: str, pod: Obj, container: str) -> None:
        meta = pod["metadata"]
        uid, name = meta["uid"], meta["name"]
        stream = await self._stream_row(run_id, uid, name, container)
        if stream.ended:
            return
        last = await (
            LogLine.filter(run_id=run_id, container=container, attempt=stream.attempt)
            .order_by("-seq")
            .first()
            .values_list("ts", flat=True)
        )
        at_last: list[str] = []
        if last is not None:
            at_last = [
                str(text)
                for text in await LogLine.filter(
                    run_id=run_id, container=container, attempt=stream.attempt, ts=last
                )
                .order_by("seq")
                .values_list("text", flat=True)
            ]

        async def sink(lines: list[RawLine]) -> None:
            await self._append(run_id, container, stream.attempt, lines)

        def finished() -> bool:
            current = self._pods().get(name)
            if current is None or current["metadata"].get("uid") != uid:
                return True
            return _terminated(current, container)

        assert self._api is not None
        follower = LogFollower(
            self._api,
            self._namespace,
            name,
            container,
            sink,
            finished,
            Dedup(str(last) if last is not None else None, at_last),
            max_batch=MAX_BATCH,
        )
        await follower.run()
        await self._drained(run_id)
        await LogStream.filter(id=stream.id).update(ended=True)

    async def _stream_row(self, run_id: str, uid: str, name: str, container: str) -> LogStream:
        """The stream's record; a pod seen for the first time is the run's next attempt."""
        lock = self._run_locks.setdefault(run_id, asyncio.Lock())
        async with lock:
            row = await LogStream.get_or_none(run_id=run_id, pod_uid=uid, container=container)
            if row is not None:
                return row
            same_pod = LogStream.filter(run_id=run_id, pod_uid=uid)
            attempt = await same_pod.first().values_list("attempt", flat=True)
            if attempt is None:
                pods = await LogStream.filter(run_id=run_id).distinct().values_list("pod_uid")
                attempt = len(pods) + 1
            return await LogStream.create(
                run_id=run_id, pod_uid=uid, pod_name=name, container=container, attempt=attempt
            )

    async def _append(
        self, run_id: str, container: str, attempt: int, lines: list[RawLine]
    ) -> None:
        """Hand lines to the run's writer (waiting only while it is far behind)."""
        run = self._run(run_id)
        while run.pending_lines >= PENDING_LINES:
            await asyncio.sleep(0.01)  # the database is slow or down: hold the stream
        run.pending.append((container, attempt, lines))
        run.pending_lines += len(lines)
        run.idle.clear()
        if run.writer is None or run.writer.done():
            run.writer = asyncio.create_task(self._write(run_id, run), name=f"logs-{run_id}")
            self._tasks.add(run.writer)
            run.writer.add_done_callback(self._tasks.discard)
        run.wake.set()

    async def _drained(self, run_id: str) -> None:
        """Until every line handed to the run's writer is stored and published."""
        run = self._run(run_id)
        while run.pending_lines or not run.idle.is_set():
            await run.idle.wait()

    async def _write(self, run_id: str, run: _RunLog) -> None:
        """The run's writer: stores what the followers handed over, then publishes it.

        It publishes at most once per `LINGER_SECONDS` (lines arriving meanwhile join the next
        batch), so a fast printer makes a few large messages rather than many small ones, and a
        quiet one gets each line out at once.
        """
        loop = asyncio.get_running_loop()
        delay = 0.1
        while True:
            if not run.pending:
                run.idle.set()
                run.wake.clear()
                await run.wake.wait()
                continue
            wait = run.last_publish + LINGER_SECONDS - loop.time()
            if wait > 0 and run.pending_lines < MAX_BATCH:
                await asyncio.sleep(wait)
            groups, count = _take(run.pending, STORE_LINES)
            run.pending_lines -= count
            started = loop.time()
            try:
                await self._store(run_id, run, groups)
            except Exception:
                log.exception("log %s: storing lines failed", run_id)
                if not self.leading:
                    # Another replica leads (or will): it reads these lines again from the
                    # cluster, under its own numbers.
                    run.pending.clear()
                    run.pending_lines = 0
                    continue
                # Nothing was published: the same lines get the same numbers on the next try.
                run.pending[:0] = groups
                run.pending_lines += count
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            delay = 0.1
            # From when this batch was taken: storing and fanning it out counts as lingering.
            run.last_publish = started

    async def _store(
        self, run_id: str, run: _RunLog, groups: list[tuple[str, int, list[RawLine]]]
    ) -> None:
        """Give lines the next sequence numbers, store them (one INSERT), then publish them in
        batches of one container and at most MAX_BATCH lines."""
        if run.next_seq == 0:
            run.next_seq = await _last_seq(run_id) + 1
        seq = run.next_seq
        stored: list[StoredLine] = []
        for container, attempt, lines in groups:
            for line in lines:
                stored.append(StoredLine(seq, container, attempt, line.ts, line.text))
                seq += 1
        stored = capped(stored, self.max_lines)
        if stored:
            await _insert_lines(run_id, stored)
        run.next_seq = min(seq, self.max_lines + 1)
        self._publish(run_id, stored, run)

    def _publish(self, run_id: str, lines: list[StoredLine], window: _RunLog | None) -> None:
        """Publish stored lines in batches of one container and at most MAX_BATCH lines, kept
        in the run's `window` if given."""
        for part in _split(lines):
            batch = LogBatch(run_id, part)
            if window is not None:
                window.remember(batch)
            self.hub.publish(log_topic(run_id), batch)

    # -- serving from the database (a replica that does not lead) ---------------------------

    def _ensure_tailer(self, run_id: str) -> None:
        task = self._tailers.get(run_id)
        if not self.leading and (task is None or task.done()) and not self._stopping:
            self._tailers[run_id] = task = asyncio.create_task(self._tail(run_id))
            self._tasks.add(task)
            task.add_done_callback(functools.partial(self._tailer_done, run_id))

    def _tailer_done(self, run_id: str, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if self._tailers.get(run_id) is task:
            del self._tailers[run_id]

    async def _tail(self, run_id: str) -> None:
        """While another replica leads and this one has subscribers to the run: publish the
        lines the leader stores, as its writer does, then the log's completion once archived.
        Subscribers fill any gap (lines stored before this started) from the database; no
        window is kept here, since what this publishes need not follow on from what it did
        before it last stopped."""
        topic = log_topic(run_id)
        after, delay = None, TAIL_SECONDS
        while not self.leading and self.hub.subscriber_count(topic):
            try:
                if after is None:
                    after = await _last_seq(run_id)
                if lines := await self.lines(run_id, after=after, limit=STORE_LINES):
                    after = lines[-1].seq
                    self._publish(run_id, lines, None)
                    continue
                if await self._publish_complete(run_id, after):
                    return
                delay = TAIL_SECONDS
            except Exception:
                log.exception("log %s: reading new lines failed", run_id)
                delay = min(delay * 2, 5.0)
            await asyncio.sleep(delay)

    async def _publish_complete(self, run_id: str, after: int) -> bool:
        """Tell the run's subscribers its log is whole, if it is archived and has nothing
        after `after`."""
        if not await LogArchive.exists(run_id=run_id):
            return False
        if await self.lines(run_id, after=after, limit=1):
            return False
        self.hub.publish(log_topic(run_id), LogComplete(run_id, after))
        return True

    # -- end of a run -----------------------------------------------------------------------

    def _pods(self) -> Mapping[str, Obj]:
        return self._tracker.pods.cache if self._tracker is not None else {}

    async def _watch_runs(self, runs_hub: Hub[Run]) -> None:
        with runs_hub.subscribe(ALL_RUNS_TOPIC) as feed:
            while True:
                try:
                    batch = await feed.next_batch()
                except Lagged:
                    if self.leading:
                        self._spawn(self.sweep())
                    continue
                for run in batch:
                    if run.status.terminal and self.leading:
                        self._spawn(self._maybe_archive(str(run.id)))

    async def set_leading(self, leading: bool) -> None:
        """This replica starts or stops holding the logs Lease (`app.kube.lease`).

        Leading: once the pods are listed, follow every pod's containers (resuming what is
        stored, as after a restart), archive the runs that ended meanwhile, and end the
        subscriptions of runs archived before. No longer leading: stop following (the new
        leader resumes the streams), store what was read and finish archives under way, then
        serve subscribers from the database.
        """
        if leading:
            if self._tracker is not None:
                await self._tracker.wait_synced()
            self.leading = True
            for pod in list(self._pods().values()):
                await self.on_pod("MODIFIED", pod)
            self._spawn(self.sweep())
            for run_id in self._subscribed_runs():
                # Archived by the previous leader: its LogComplete went to its own subscribers.
                await self._publish_complete(run_id, await _last_seq(run_id))
            return
        self.leading = False
        followers = list(self.followers.values())
        for task in followers:
            task.cancel()
        await asyncio.gather(*followers, return_exceptions=True)
        # What they read is stored and published before the Lease goes (a writer is never cut
        # off inside its INSERT's transaction; one that cannot store drops its lines, which the
        # next leader reads again); archives under way end. Then the numbers are the next
        # leader's.
        for run_id, run in list(self._runs.items()):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._drained(run_id), STEP_DOWN_SECONDS)
            if run.writer is not None:
                run.writer.cancel()
                await asyncio.gather(run.writer, return_exceptions=True)
        if self._archiving:
            await asyncio.wait(list(self._archiving), timeout=STEP_DOWN_SECONDS)
        self._runs.clear()
        for run_id in self._subscribed_runs():
            self._ensure_tailer(run_id)

    def _subscribed_runs(self) -> list[str]:
        """The runs whose logs have subscribers on this replica."""
        return [
            t.removeprefix(_TOPIC_PREFIX) for t in self.hub.topics() if t.startswith(_TOPIC_PREFIX)
        ]

    async def _maybe_archive(self, run_id: str, *, force: bool = False) -> None:
        """Archive the run's log if it is terminal and every stream of it ended (`force`: even
        if its Job ran a pod that the pod watch never showed)."""
        task = asyncio.current_task()
        assert task is not None
        self._archiving.add(task)  # a leader stepping down lets it finish
        try:
            await self._archive_if_due(run_id, force=force)
        finally:
            self._archiving.discard(task)

    async def archive_overdue(self, run_id: str) -> None:
        """Archive a run that ended long ago whatever its pods showed (the clean-up loop's
        last resort: a pod deleted while no replica led is never seen)."""
        if self.leading:
            await self._maybe_archive(run_id, force=True)

    async def _pod_unseen(self, run_id: str) -> bool:
        """The run's Job ran a pod, but no stream of it was ever followed: the Jobs watch told
        the end before the Pods watch showed the pod, whose lines are still to be read."""
        job = self._tracker.jobs.cache.get(kube_job_name(run_id)) if self._tracker else None
        status = (job or {}).get("status") or {}
        ran = any(status.get(key) for key in ("active", "succeeded", "failed"))
        return ran and not await LogStream.exists(run_id=run_id)

    async def _archive_if_due(self, run_id: str, *, force: bool = False) -> None:
        lock = self._run_locks.setdefault(run_id, asyncio.Lock())
        async with lock:
            if not self.leading or self.active_followers(run_id):
                return
            run = await Run.get_or_none(id=run_id)
            if run is None or not run.status.terminal:
                return
            if await LogArchive.exists(run_id=run_id):
                return
            # The run may have ended before the pod watch showed its containers running.
            for pod in list(self._pods().values()):
                if (pod["metadata"].get("labels") or {}).get(RUN_ID) == run_id:
                    await self.on_pod("MODIFIED", pod)
            if self.active_followers(run_id) or (not force and await self._pod_unseen(run_id)):
                return
            # Streams left unfinished by a pod that is gone now cannot be read any more.
            await LogStream.filter(run_id=run_id, ended=False).update(ended=True)
            objects, total, last_seq, size = await self._write_archive(run_id)
            await LogArchive.create(run_id=run_id, objects=objects, lines=total, bytes=size)
            if run_id in self._runs:
                self._runs[run_id].forget()
        self.hub.publish(log_topic(run_id), LogComplete(run_id, last_seq))

    async def _write_archive(self, run_id: str) -> tuple[dict[str, str], int, int, int]:
        """Each container's log written to the store: their keys, the number of lines, the
        run's last `seq` and the bytes written."""
        containers = await (
            LogLine.filter(run_id=run_id).distinct().values_list("container", flat=True)
        )
        objects: dict[str, str] = {}
        read = [0, 0, 0]  # lines, highest seq, bytes
        for container in sorted(str(c) for c in containers):
            key = archive_key(run_id, container)
            await self.store.put(
                key,
                self._archive_chunks(run_id, container, read),
                content_type="text/plain; charset=utf-8",
            )
            objects[container] = key
        return objects, read[0], read[1], read[2]

    async def _archive_chunks(
        self, run_id: str, container: str, read: list[int]
    ) -> AsyncIterator[bytes]:
        after = 0
        while page := await self.lines(run_id, after=after, container=container, limit=5000):
            after = page[-1].seq
            read[0] += len(page)
            read[1] = max(read[1], after)
            chunk = "".join(f"{line.ts} {line.text}\n" for line in page).encode()
            read[2] += len(chunk)
            yield chunk

    # -- reading ----------------------------------------------------------------------------

    async def lines(
        self,
        run_id: UUID | str,
        *,
        after: int | None = None,
        before: int | None = None,
        container: str | None = None,
        limit: int = BACKLOG_BATCH,
        newest_first: bool = False,
    ) -> list[StoredLine]:
        """Up to `limit` stored lines with `after < seq < before`, oldest first unless asked."""
        query = LogLine.filter(run_id=run_id)
        if after is not None:
            query = query.filter(seq__gt=after)
        if before is not None:
            query = query.filter(seq__lt=before)
        if container is not None:
            query = query.filter(container=container)
        rows = await (
            query.order_by("-seq" if newest_first else "seq")
            .limit(limit)
            .values_list("seq", "container", "attempt", "ts", "text")
        )
        return [StoredLine(*row) for row in rows]

    async def archive(self, run_id: UUID | str) -> LogArchive | None:
        """The run's archive record, once its log is whole."""
        return await LogArchive.get_or_none(run_id=run_id)

    async def download_url(self, run_id: UUID | str, container: str) -> str | None:
        """A URL to download a container's whole log; None until the run's log is archived."""
        archive = await self.archive(run_id)
        if archive is None or container not in archive.objects:
            return None
        return await self.store.presign_get(
            archive.objects[container],
            expires_in=DOWNLOAD_URL_SECONDS,
            filename=f"{run_id}-{container}.log",
        )

    async def follow(
        self,
        run_id: UUID | str,
        *,
        after: int = 0,
        container: str | None = None,
        send: Callable[[LogBatch], bool] | None = None,
    ) -> AsyncIterator[LogBatch]:
        """The backlog after `after`, then live batches; ends once the log is whole and sent.

        Published batches are passed on as they are (shared by every subscriber) whenever they
        follow on from what this subscriber has seen; otherwise they are trimmed or re-read.
        Catching up (at first, after falling behind) reads the run's in-memory window when it
        reaches back to the subscriber's cursor, and the database otherwise. With `send`, a
        live batch published while the subscriber waits for one is offered to `send` from the
        publisher's task (True: it took it, and the batch is not yielded).
        """
        run_id = str(run_id)
        with self.hub.subscribe(log_topic(run_id), buffer=self.buffer) as feed:
            self._ensure_tailer(run_id)  # if another replica leads
            complete = await LogArchive.exists(run_id=run_id)
            lagged, catch_up = False, True

            def deliver(item: Item) -> bool:
                nonlocal after, lagged
                if send is None or isinstance(item, LogComplete) or item.lines[0].seq > after + 1:
                    return False  # the end, or a gap: for the subscriber's own task
                if (out := _after(item, after, container, lagged)) is not None:
                    if not send(out):
                        return False
                    lagged = False
                after = max(after, item.last_seq)
                return True

            if send is not None:
                feed.deliver = deliver
            while True:
                while catch_up:
                    run = self._runs.get(run_id)
                    recent = run.since(after) if run is not None and not complete else None
                    if recent is not None:
                        # Every batch published so far; later ones are in the feed.
                        for batch in recent:
                            if (out := _after(batch, after, container, lagged)) is not None:
                                yield out
                                lagged = False
                            after = max(after, batch.last_seq)
                        catch_up = False
                        break
                    # Every container's lines, so that `after` passes the others' too: a live
                    # batch that does not follow on from it is a gap to read (below).
                    page = await self.lines(run_id, after=after)
                    mine = [line for line in page if container in (None, line.container)]
                    if mine:
                        yield LogBatch(run_id, mine, lagged=lagged)
                        lagged = False
                    if page:
                        after = page[-1].seq
                    catch_up = len(page) == BACKLOG_BATCH
                if complete:
                    return
                try:
                    items = await feed.next_batch()
                except Lagged:
                    lagged, catch_up = True, True
                    complete = await LogArchive.exists(run_id=run_id)
                    continue
                for item in items:
                    if isinstance(item, LogComplete):
                        # Whatever this subscriber has not seen yet is in the database.
                        complete, catch_up = True, catch_up or after < item.last_seq
                        continue
                    if catch_up or item.lines[0].seq > after + 1:
                        # A gap: lines stored while another replica led, before this one
                        # published; they (and what follows) are read from the database.
                        catch_up = True
                        continue
                    if (out := _after(item, after, container, lagged)) is not None:
                        yield out
                        lagged = False
                    after = max(after, item.last_seq)


def _after(batch: LogBatch, after: int, container: str | None, lagged: bool) -> LogBatch | None:
    """What a subscriber at `after` (following `container`) gets of a published batch: the
    batch itself, shared, whenever it can (its lagged twin is shared among lagged subscribers)."""
    if batch.last_seq <= after or (container is not None and batch.lines[0].container != container):
        return None
    if batch.lines[0].seq <= after:
        return LogBatch(batch.run_id, [line for line in batch.lines if line.seq > after], lagged)
    if not lagged:
        return batch
    twin = batch.shared.get(_LAGGED)
    if twin is None:
        twin = batch.shared[_LAGGED] = LogBatch(batch.run_id, batch.lines, lagged=True)
    assert isinstance(twin, LogBatch)
    return twin


_LAGGED = "lagged-twin"
