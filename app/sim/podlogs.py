"""Container logs: CRI files the kubelet writes, read back as kube-apiserver serves them.

The kubelet writes one file per container run (``<restartCount>.log``) in the CRI format
``<RFC3339Nano> stdout|stderr F|P <text>`` — ``P`` marks a partial line (longer than 16 KiB)
continued on the next record. Timestamps use a fixed nine-digit fraction, so they also sort as
text; ``sinceTime`` is a text comparison.

Reading works on large blocks: records are rewritten with one regular expression per block
rather than a Python loop per line, and a follower sleeps on a future that the writer resolves
on its next write.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

READ_BLOCK = 1 << 20
MAX_LINE = 16 * 1024
_PREFIX = re.compile(rb"^[^ \n]+ [^ \n]+ [FP] ", re.M)
_PREFIX_KEEP_TIME = re.compile(rb"^([^ \n]+) [^ \n]+ [FP] ", re.M)


def cri_timestamp(moment: datetime | None = None) -> bytes:
    """``2026-11-27T12:00:00.123456000Z`` (RFC3339Nano, fixed width)."""
    moment = moment or datetime.now(UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f000Z").encode()


class LogWriter:
    """Appends a container run's output to its CRI log file and wakes followers."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._file: BinaryIO = path.open("ab")
        self._waiters: list[asyncio.Future[None]] = []
        self._pending: dict[bytes, bytes] = {}
        self.closed = False

    def write(self, stream: bytes, data: bytes) -> None:
        """Record output of ``stream`` (b"stdout"/b"stderr"); a trailing partial line waits."""
        data = self._pending.pop(stream, b"") + data
        cut = data.rfind(b"\n")
        if cut < 0:
            if len(data) < MAX_LINE:
                self._pending[stream] = data
                return
            self._emit(stream, [data], b"P")
            return
        lines = data[:cut].split(b"\n")
        rest = data[cut + 1 :]
        if rest:
            self._pending[stream] = rest
        self._emit(stream, lines, b"F")

    def _emit(self, stream: bytes, lines: list[bytes], tag: bytes) -> None:
        prefix = cri_timestamp() + b" " + stream + b" F "
        long = [line for line in lines if len(line) > MAX_LINE]
        if long:
            # Split oversized lines into P records, as containerd does.
            records = []
            for line in lines:
                while len(line) > MAX_LINE:
                    records.append(prefix[:-2] + b"P " + line[:MAX_LINE])
                    line = line[MAX_LINE:]
                records.append(prefix + line)
            if tag == b"P":
                records[-1] = prefix[:-2] + b"P " + records[-1][len(prefix) :]
            self._file.write(b"\n".join(records) + b"\n")
        elif tag == b"P":
            self._file.write(prefix[:-2] + b"P " + lines[0] + b"\n")
        else:
            self._file.write(prefix + (b"\n" + prefix).join(lines) + b"\n")
        self._file.flush()
        self._wake()

    def close(self) -> None:
        """Flush what is pending (as complete lines) and tell followers the run ended."""
        if self.closed:
            return
        for stream, rest in list(self._pending.items()):
            if rest:
                self._emit(stream, [rest], b"F")
        self._pending.clear()
        self._file.close()
        self.closed = True
        self._wake()

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def changed(self) -> asyncio.Future[None]:
        """A future resolved on the next write or close."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(future)
        return future


def _tail_offset(path: Path, lines: int) -> int:
    """The byte offset where the last ``lines`` records of the file start."""
    if lines <= 0:
        return os.path.getsize(path)
    with path.open("rb") as f:
        end = f.seek(0, os.SEEK_END)
        position = end
        seen = 0
        # The file ends with a newline; it does not start a record.
        skip_last = True
        while position > 0:
            step = min(READ_BLOCK, position)
            position -= step
            f.seek(position)
            block = f.read(step)
            index = len(block)
            while True:
                index = block.rfind(b"\n", 0, index)
                if index < 0:
                    break
                if skip_last and position + index == end - 1:
                    skip_last = False
                    continue
                seen += 1
                if seen == lines:
                    return position + index + 1
        return 0


def _since_offset(path: Path, since: bytes) -> int:
    """The offset of the first record stamped at or after ``since``."""
    with path.open("rb") as f:
        offset = 0
        for line in f:
            if line[: len(since)] >= since:
                return offset
            offset += len(line)
        return offset


async def read_log(
    path: Path,
    *,
    writer: LogWriter | None,
    timestamps: bool = False,
    since: datetime | None = None,
    tail_lines: int | None = None,
    limit_bytes: int | None = None,
) -> AsyncIterator[bytes]:
    """Yield the log as kube-apiserver returns it; follow while ``writer`` is open."""
    if not path.exists():
        return
    offset = 0
    if since is not None:
        offset = _since_offset(path, cri_timestamp(since))
    if tail_lines is not None:
        offset = max(offset, _tail_offset(path, tail_lines))
    remaining = limit_bytes
    carry = b""
    with path.open("rb") as f:
        f.seek(offset)
        while True:
            waiter = writer.changed() if writer is not None and not writer.closed else None
            data = f.read(READ_BLOCK)
            if data:
                if waiter is not None:
                    waiter.cancel()
                data = carry + data
                cut = data.rfind(b"\n") + 1
                carry = data[cut:]
                if not cut:
                    continue
                out = render(data[:cut], timestamps)
                if remaining is not None:
                    out = out[:remaining]
                    remaining -= len(out)
                if out:
                    yield out
                if remaining is not None and remaining <= 0:
                    return
                continue
            if waiter is None:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiter, timeout=1.0)


def render(records: bytes, timestamps: bool) -> bytes:
    """CRI records (complete lines) to the text the log endpoint returns."""
    if b" P " not in records:
        if timestamps:
            return _PREFIX_KEEP_TIME.sub(rb"\1 ", records)
        return _PREFIX.sub(b"", records)
    # Rare: partial records join with the next one (keeping the first timestamp).
    out = []
    at_start = True
    for line in records.split(b"\n")[:-1]:
        stamp, _, rest = line.partition(b" ")
        tag, _, text = rest.partition(b" ")[2].partition(b" ")
        if at_start and timestamps:
            out.append(stamp + b" ")
        out.append(text)
        at_start = tag != b"P"
        if at_start:
            out.append(b"\n")
    return b"".join(out)
