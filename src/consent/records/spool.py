"""The local spool: where a decision's record waits while the database is down or slow.

One JSON line per record, appended and fsync'd before the record counts as kept; appends that
arrive together share one write and one fsync. Replay works on a copy that cannot grow: the spool
is first renamed to ``<spool>.replaying`` (a new spool takes further appends), its lines are
written to the database in order, batch by batch, and the file is removed only when all of them
are committed. A crash anywhere leaves either the spool or the ``.replaying`` file, and the next
replay starts again from its first line; the database's idempotent inserts keep each record once.

A line that was being written when the process died (no newline at the end) was never
acknowledged: it is cut off when the spool is opened, and skipped in a ``.replaying`` file. A line
that does not parse is moved to ``<spool>.rejected`` for someone to look at. One process owns a
spool at a time (an exclusive lock on ``<spool>.lock``). Several processes started with the same
spool path (uvicorn's workers) each take the first free one of ``<spool>``, ``<spool>.1``, …
``<spool>.{MAX_SPOOLS - 1}``; after a restart they take the same names again, so what a process
left in its spool is replayed by the one that takes it next. A replay also takes, for as long as
it lasts, each sibling spool that holds records and that no process holds (left by a worker that
is not started again, when a site runs fewer workers than before), and replays it as well.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import logging
import os
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import IO

from consent.records.model import DecisionRecord

logger = logging.getLogger("consent.records")

#: A spool line is a few kilobytes (the record and its wording); longer ones are not ours.
MAX_LINE_BYTES = 4 * 1024 * 1024
#: How many lines a replay writes to the database in one transaction.
REPLAY_BATCH = 500

Insert = Callable[[list[DecisionRecord]], Awaitable[None]]


class SpoolInUseError(RuntimeError):
    """Another process holds the spool; each process needs a spool file of its own."""


def _fsync_directory(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _holds_records(path: Path) -> bool:
    """Whether the spool at ``path`` (or a replay of it that did not finish) holds records."""
    if path.with_name(path.name + ".replaying").exists():
        return True
    try:
        return path.stat().st_size > 0
    except FileNotFoundError:
        return False


def _spool_line(record: DecisionRecord) -> bytes:
    return record.json_line().encode("utf-8", "backslashreplace") + b"\n"


#: How many processes may share one spool path, each with a numbered spool of its own.
MAX_SPOOLS = 64


class Spool:
    """An append-only JSON-lines file of records, replayed into the database later."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._base = Path(path)
        self._name(self._base)
        self._descriptor: int | None = None
        self._lock_descriptor: int | None = None
        self._file_lock = asyncio.Lock()
        self._replay_lock = asyncio.Lock()
        self._waiting: list[tuple[bytes, asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None
        #: Sibling spools this process could not open, each reported once (at most MAX_SPOOLS).
        self._unopenable: set[Path] = set()

    def _name(self, path: Path) -> None:
        self.path = path
        self.replaying_path = path.with_name(path.name + ".replaying")
        self.rejected_path = path.with_name(path.name + ".rejected")
        self.lock_path = path.with_name(path.name + ".lock")

    # --- owning the files ---------------------------------------------------------------

    def _sibling(self, number: int) -> Path:
        """The path's spool number ``number``: ``<spool>``, then ``<spool>.1``, …"""
        return self._base.with_name(self._base.name + (f".{number}" if number else ""))

    def open(self) -> None:
        """Takes the first spool of the path's that no other process holds, and makes it
        ready for appends."""
        for number in range(MAX_SPOOLS):
            if self._take(self._sibling(number)):
                return
        self._name(self._base)
        raise SpoolInUseError(
            f"the consent-record spool {self._base} and its {MAX_SPOOLS - 1} numbered "
            "siblings are all used by other processes"
        )

    def _take(self, path: Path) -> bool:
        """Takes the spool at ``path`` unless another process holds it."""
        self._name(path)
        lock = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(lock)
            return False
        try:
            self._cut_torn_line()
            self._descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        except OSError:
            os.close(lock)
            raise
        self._lock_descriptor = lock
        return True

    def _cut_torn_line(self) -> None:
        """Cuts a last line that a crash left without its newline (it was never fsync'd, so
        never acknowledged); appends after it would otherwise be glued to it."""
        try:
            handle = self.path.open("r+b")
        except FileNotFoundError:
            return
        with handle:
            size = handle.seek(0, os.SEEK_END)
            end = size
            while end > 0:
                step = min(end, 65536)
                handle.seek(end - step)
                chunk = handle.read(step)
                newline = chunk.rfind(b"\n")
                if newline >= 0:
                    end = end - step + newline + 1
                    break
                end -= step
            if end != size:
                logger.warning(
                    "consent records: cut %d bytes of an unfinished line off %s", size - end, self
                )
                handle.truncate(end)
                os.fsync(handle.fileno())

    async def close(self) -> None:
        """Writes what is waiting, then lets another process take the spool."""
        if self._flusher is not None:
            await self._flusher
        async with self._file_lock:
            for descriptor in (self._descriptor, self._lock_descriptor):
                if descriptor is not None:
                    os.close(descriptor)
            self._descriptor = self._lock_descriptor = None

    def pending(self) -> bool:
        """Whether records wait here, or in a sibling spool, for the database."""
        return _holds_records(self.path) or any(self._others())

    def _others(self) -> Iterator[Path]:
        """The path's other spools that hold records: those no process holds are orphans
        (their lock is free); those of running processes are replayed by them."""
        for number in range(MAX_SPOOLS):
            path = self._sibling(number)
            if path != self.path and _holds_records(path):
                yield path

    def __str__(self) -> str:
        return str(self.path)

    # --- appending ------------------------------------------------------------------------

    async def append(self, records: Sequence[DecisionRecord]) -> None:
        """Returns once ``records`` are on disk (written and fsync'd). Appends made while a
        write is under way are gathered into the next one."""
        if self._descriptor is None:
            raise RuntimeError(f"the spool {self} is not open")
        written: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((b"".join(map(_spool_line, records)), written))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        await asyncio.shield(written)

    async def _flush(self) -> None:
        while self._waiting:
            taken, self._waiting = self._waiting, []
            async with self._file_lock:
                try:
                    await asyncio.to_thread(self._write, b"".join(lines for lines, _ in taken))
                except OSError as error:
                    for _, written in taken:
                        written.set_exception(error)
                    continue
            for _, written in taken:
                written.set_result(None)

    def _write(self, data: bytes) -> None:
        assert self._descriptor is not None
        view = memoryview(data)
        while view:
            view = view[os.write(self._descriptor, view) :]
        os.fsync(self._descriptor)

    # --- replaying ------------------------------------------------------------------------

    async def replay(self, insert: Insert, batch_size: int = REPLAY_BATCH) -> int:
        """Hands every spooled record to ``insert``, in the order spooled, ``batch_size`` at a
        time, and empties the spool once all are in; then does the same for each orphaned
        sibling spool. Returns how many records were replayed. If ``insert`` raises, the
        records stay for the next replay. An orphan this process cannot open (its files belong
        to another account, say) is reported once as a warning and left: it must not keep the
        store from writing to the database."""
        total = await self._replay_own(insert, batch_size)
        for path in list(self._others()):
            orphan = Spool(path)
            try:
                taken = orphan._take(path)
            except OSError as error:
                if path not in self._unopenable:
                    self._unopenable.add(path)
                    logger.warning(
                        "consent records: cannot open %s, a spool that holds records and that no "
                        "process holds, to replay it: %s",
                        path,
                        error,
                    )
                continue
            if not taken:
                continue  # a running process's own
            try:
                replayed = await orphan._replay_own(insert, batch_size)
            finally:
                await orphan.close()
            if replayed:
                logger.info(
                    "consent records: %d records replayed from %s, a spool no process holds",
                    replayed,
                    orphan,
                )
            total += replayed
        return total

    async def _replay_own(self, insert: Insert, batch_size: int) -> int:
        async with self._replay_lock:
            total = 0
            if self.replaying_path.exists():
                # A replay that did not finish: its file first, so the order is kept.
                total += await self._replay_file(insert, batch_size)
            async with self._file_lock:
                if self._descriptor is None or os.fstat(self._descriptor).st_size == 0:
                    return total
                await asyncio.to_thread(self._set_aside)
            return total + await self._replay_file(insert, batch_size)

    def _set_aside(self) -> None:
        """Renames the spool to the ``.replaying`` file and starts a new, empty spool."""
        assert self._descriptor is not None
        os.close(self._descriptor)
        self._descriptor = None
        os.replace(self.path, self.replaying_path)
        self._descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        _fsync_directory(self.path.parent)

    async def _replay_file(self, insert: Insert, batch_size: int) -> int:
        total = 0
        with self.replaying_path.open("rb") as reader:
            while True:
                lines = await asyncio.to_thread(self._read_lines, reader, batch_size)
                if not lines:
                    break
                records = await asyncio.to_thread(self._parse, lines)
                if records:
                    await insert(records)
                    total += len(records)
        self.replaying_path.unlink()
        await asyncio.to_thread(_fsync_directory, self.path.parent)
        return total

    def _read_lines(self, reader: IO[bytes], count: int) -> list[bytes]:
        lines: list[bytes] = []
        while len(lines) < count:
            line = reader.readline(MAX_LINE_BYTES + 1)
            if not line:
                break
            if not line.endswith(b"\n"):
                if len(line) <= MAX_LINE_BYTES:
                    logger.warning("consent records: skipped an unfinished line in %s", self)
                    break
                while (rest := reader.readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
                    pass
                self._reject(line[:1024] + b" [cut]\n", "a line longer than the limit")
                continue
            lines.append(line)
        return lines

    def _parse(self, lines: list[bytes]) -> list[DecisionRecord]:
        records = []
        for line in lines:
            try:
                records.append(DecisionRecord.from_json(json.loads(line)))
            except (ValueError, KeyError, TypeError) as error:
                self._reject(line, str(error))
        return records

    def _reject(self, line: bytes, why: str) -> None:
        logger.error(
            "consent records: a spool line cannot be read (%s); kept in %s", why, self.rejected_path
        )
        with self.rejected_path.open("ab") as rejected:
            rejected.write(line)
            rejected.flush()
            os.fsync(rejected.fileno())
