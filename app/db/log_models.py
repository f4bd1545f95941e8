"""Tortoise models of run logs: stored lines, the streams they came from, and archives.

Lines live in the database while a run is live and afterwards: one row per line, keyed by the
run and a per-run sequence number (`seq`), written in batches of up to a few hundred rows per
INSERT. A row is small, the `(run, seq)` index serves keyset paging in either direction without
reading a log whole, and the same rows answer a live run and a finished one, so the connection
a client pages through is identical before and after the archive exists. The archive in object
storage is the downloadable copy (and what a future retention job may keep alone).
"""

from __future__ import annotations

from tortoise import fields
from tortoise.fields.db_defaults import SqlDefault
from tortoise.models import Model

from app.db.models import Run


class LogLine(Model):
    """One line a container printed (or a piece of one longer than the limit)."""

    id = fields.BigIntField(primary_key=True)
    run: fields.ForeignKeyRelation[Run] = fields.ForeignKeyField(
        "models.Run", related_name="log_lines", on_delete=fields.CASCADE, db_index=False
    )
    # Per run, from 1, in the order lines were stored; the cursor clients hold.
    seq = fields.BigIntField()
    container = fields.CharField(max_length=63)
    # Which pod of the run (1, then 2 after a preemption, ...).
    attempt = fields.SmallIntField()
    # RFC 3339 with a fixed nine-digit fraction, as Kubernetes stamped the line: sorts as text.
    ts = fields.CharField(max_length=30)
    text = fields.TextField()

    class Meta:
        table = "log_line"
        unique_together = (("run", "seq"),)
        indexes = (("run_id", "container", "seq"),)


class LogStream(Model):
    """One container of one pod of a run, as followed by the platform (ended: read whole)."""

    id = fields.BigIntField(primary_key=True)
    run: fields.ForeignKeyRelation[Run] = fields.ForeignKeyField(
        "models.Run", related_name="log_streams", on_delete=fields.CASCADE
    )
    pod_uid = fields.CharField(max_length=64)
    pod_name = fields.CharField(max_length=253)
    container = fields.CharField(max_length=63)
    attempt = fields.SmallIntField()
    ended = fields.BooleanField(default=False)

    class Meta:
        table = "log_stream"
        unique_together = (("run", "pod_uid", "container"),)


class LogArchive(Model):
    """The archived log of a run: written once the run is terminal and every stream ended."""

    id = fields.BigIntField(primary_key=True)
    run: fields.OneToOneRelation[Run] = fields.OneToOneField(
        "models.Run", related_name="log_archive", on_delete=fields.CASCADE
    )
    # Container name -> object key (`runs/<run-id>/logs/<container>.log`).
    objects: fields.Field[dict[str, str]] = fields.JSONField(default=dict)
    lines = fields.BigIntField(default=0)
    # Bytes of the archived objects (counted against the Job owner's storage quota).
    bytes = fields.BigIntField(default=0, db_default=SqlDefault("0"))
    archived_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "log_archive"
