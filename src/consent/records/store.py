"""The record store: every decision committed to the database, or kept in the spool.

``await store.record(record)`` returns :attr:`Stored.COMMITTED` once the record is committed, or
:attr:`Stored.SPOOLED` once it is fsync'd in the local spool because the database failed or did
not commit within ``commit_wait`` seconds. Either way the record is kept; only if the spool
cannot be written either does it raise :class:`RecordNotKeptError`.

Group commit: callers put their records on a bounded queue, and one writer task takes all that
are waiting (at most ``max_batch``) into one transaction, so decisions that arrive together share
a commit. While the database is down, the writer sends whole batches to the spool instead, and a
keeper task tries the database again every ``retry_interval`` seconds; once it answers, records
go to the database again and the spool is replayed into it (in the order spooled, each record
once). The keeper also replays the spool at start-up, and every ``replay_interval`` seconds what
a slow commit left in it.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import os
from collections import OrderedDict
from types import TracebackType
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from consent.records.database import (
    DISABLED_URL,
    RecordsConfigurationError,
    SchemaVersionError,
    create_engine,
    ensure_schema,
    insert_records,
    is_temporary,
    records_table,
    safe_url,
)
from consent.records.model import DecisionRecord
from consent.records.spool import REPLAY_BATCH, Spool
from consent.settings import DEFAULT_RECORDS_REPLAY_INTERVAL

logger = logging.getLogger("consent.records")

#: Seconds a decision waits for its commit before its record goes to the spool.
DEFAULT_COMMIT_WAIT = 2.0
#: The most records one transaction takes.
MAX_BATCH = 256
#: Transactions under way at once. One is the most efficient on a small machine (measured with
#: ``benchmarks/bench_records.py``); more let a commit's wait overlap the next batch, which helps
#: when the database is across a network. SQLite takes one writer at a time whatever this says.
DEFAULT_WRITERS = 1
#: Records waiting for the writer; when full, new records go straight to the spool.
MAX_QUEUED = 8192
#: Seconds between replays of what a slow commit spooled (the ``records_replay_interval``
#: setting's default), and between tries of a database that is down.
DEFAULT_REPLAY_INTERVAL = DEFAULT_RECORDS_REPLAY_INTERVAL
DEFAULT_RETRY_INTERVAL = 1.0
#: Seconds without a batch after which the writers give their connections back to the pool
#: (so that an app stopped without its lifespan shutdown leaves none checked out).
HELD_IDLE = 0.2
#: Wording fingerprints known to be stored (so their rows are not sent again).
MAX_KNOWN_WORDINGS = 1024
#: The spool's default file, in the working directory.
DEFAULT_SPOOL_PATH = "consent-records.spool.jsonl"


class Stored(enum.Enum):
    """Where a record was kept."""

    COMMITTED = "committed"
    SPOOLED = "spooled"


class RecordNotKeptError(RuntimeError):
    """Neither the database nor the spool could keep the record."""


class _Waiting:
    """A record waiting for its commit. ``outcome`` holds where it was kept, or None once
    ``commit_wait`` has passed without a commit (the record is then ``abandoned``: the writer
    leaves it, and the caller spools it)."""

    __slots__ = ("abandoned", "outcome", "record")

    def __init__(self, record: DecisionRecord, loop: asyncio.AbstractEventLoop) -> None:
        self.record = record
        self.outcome: asyncio.Future[Stored | None] = loop.create_future()
        self.abandoned = False

    def settle(self, stored: Stored) -> None:
        if not self.outcome.done():
            self.outcome.set_result(stored)

    def fail(self, error: BaseException) -> None:
        if not self.outcome.done():
            self.outcome.set_exception(error)

    def expire(self) -> None:
        """``commit_wait`` is over: the caller stops waiting for the commit."""
        if not self.outcome.done():
            self.abandoned = True
            self.outcome.set_result(None)


_STOP = object()


class _KnownWordings:
    """Fingerprints of wordings already committed; bounded, least recently used dropped."""

    def __init__(self, size: int = MAX_KNOWN_WORDINGS) -> None:
        self.size = size
        self._seen: OrderedDict[str, None] = OrderedDict()

    def snapshot(self) -> frozenset[str]:
        return frozenset(self._seen)

    def add(self, records: list[DecisionRecord]) -> None:
        for record in records:
            self._seen[record.wording.fingerprint] = None
            self._seen.move_to_end(record.wording.fingerprint)
        while len(self._seen) > self.size:
            self._seen.popitem(last=False)


def open_store(
    url: str, spool_path: str | os.PathLike[str] = DEFAULT_SPOOL_PATH, **options: Any
) -> RecordStore | None:
    """The store for the ``records_url`` setting, or ``None`` when it is ``"none"``."""
    if url.strip().lower() == DISABLED_URL:
        return None
    return RecordStore(url, spool_path=spool_path, **options)


class RecordStore:
    """Keeps every decision's record: see the module's documentation."""

    def __init__(
        self,
        url: str,
        *,
        spool_path: str | os.PathLike[str] = DEFAULT_SPOOL_PATH,
        commit_wait: float = DEFAULT_COMMIT_WAIT,
        max_batch: int = MAX_BATCH,
        replay_interval: float = DEFAULT_REPLAY_INTERVAL,
        retry_interval: float = DEFAULT_RETRY_INTERVAL,
        replay_batch: int = REPLAY_BATCH,
        writers: int = DEFAULT_WRITERS,
    ) -> None:
        if commit_wait <= 0 or max_batch < 1 or replay_batch < 1 or writers < 1:
            raise ValueError("commit_wait, max_batch, replay_batch and writers must be positive")
        self.engine = create_engine(url)
        self.url = safe_url(self.engine.url)
        self.spool = Spool(spool_path)
        self.commit_wait = commit_wait
        self.max_batch = int(max_batch)
        self.replay_interval = replay_interval
        self.retry_interval = retry_interval
        self.replay_batch = int(replay_batch)
        self.writers = int(writers)
        #: Whether records go to the database (else to the spool, until a replay succeeds).
        self.direct = False
        self._known = _KnownWordings()
        self._queue: asyncio.Queue[_Waiting | object] = asyncio.Queue(MAX_QUEUED)
        self._wake_keeper = asyncio.Event()
        self._replay_lock = asyncio.Lock()
        self._schema_ready = False
        self._writer: asyncio.Task[None] | None = None
        self._keeper: asyncio.Task[None] | None = None
        self._closing = False
        #: The writers' connections between two batches (at most ``writers``), kept until
        #: no batch has come for HELD_IDLE seconds.
        self._held: list[AsyncConnection] = []
        self._last_batch = 0.0
        self._idle_timer: asyncio.TimerHandle | None = None
        self._giving_back: set[asyncio.Task[None]] = set()

    # --- life cycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Opens the spool and the database. A database that is down only for now is a warning
        (records are spooled until it answers); a wrong setting or an unknown schema version
        raises :class:`RecordsConfigurationError`."""
        self.spool.open()
        try:
            await ensure_schema(self.engine)
            self._schema_ready = True
            self.direct = True
        except SchemaVersionError:
            await self._release()
            raise
        except Exception as error:
            if not is_temporary(error):
                await self._release()
                raise RecordsConfigurationError(
                    f"records_url: cannot use {self.url}: {error}"
                ) from error
            logger.warning(
                "consent records: the database %s does not answer (%s); decisions go to the "
                "spool %s until it does",
                self.url,
                error,
                self.spool,
            )
        self._writer = asyncio.create_task(self._write_loop(), name="consent records writer")
        self._keeper = asyncio.create_task(self._keep_loop(), name="consent records keeper")
        if self.spool.pending():
            self._wake_keeper.set()

    async def close(self) -> None:
        """Writes what is queued (to the database or the spool), then lets go of both."""
        if self._writer is None or self._closing:
            return
        self._closing = True
        await self._queue.put(_STOP)
        await self._writer
        assert self._keeper is not None
        self._keeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._keeper
        await self._release()

    async def _release(self) -> None:
        await self.spool.close()
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        while self._held:
            with contextlib.suppress(Exception):
                await self._held.pop().close()
        await asyncio.gather(*self._giving_back, return_exceptions=True)
        await self.engine.dispose()

    async def __aenter__(self) -> RecordStore:
        await self.start()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    # --- recording --------------------------------------------------------------------------

    async def record(self, record: DecisionRecord) -> Stored:
        """Keeps ``record``: committed, or spooled after at most ``commit_wait`` seconds."""
        if self._writer is None or self._closing:
            raise RuntimeError("the record store is not running")
        loop = asyncio.get_running_loop()
        waiting = _Waiting(record, loop)
        try:
            self._queue.put_nowait(waiting)
        except asyncio.QueueFull:
            return await self._spool([waiting])
        # One timer rather than asyncio.timeout() around asyncio.shield(): the same bounded
        # wait for a third of the CPU (the writer never sees the caller's cancellation either
        # way: the future is the caller's own, and settling a done one does nothing).
        timer = loop.call_later(self.commit_wait, waiting.expire)
        try:
            stored = await waiting.outcome
        finally:
            timer.cancel()
        if stored is None:
            # The commit is slow: keep the record in the spool now. Should the commit still
            # happen, the replay finds the record stored and leaves it.
            return await self._spool([waiting])
        return stored

    async def _spool(self, batch: list[_Waiting]) -> Stored:
        try:
            await self.spool.append([waiting.record for waiting in batch])
        except OSError as error:
            lost = RecordNotKeptError(
                f"consent records: the database and the spool {self.spool} both failed: {error}"
            )
            for waiting in batch:
                waiting.fail(lost)
            raise lost from error
        for waiting in batch:
            waiting.settle(Stored.SPOOLED)
        return Stored.SPOOLED

    async def _write_loop(self) -> None:
        """Takes what waits into batches, one transaction each, with at most ``writers``
        transactions at a time; what waits is shared among the writers that are free, so a
        commit never waits for another to finish before it starts."""
        free = asyncio.Semaphore(self.writers)
        running: set[asyncio.Task[None]] = set()
        stopping = False
        while not stopping:
            item: _Waiting | object = await self._queue.get()
            await free.acquire()
            idle = self.writers - len(running)
            limit = min(self.max_batch, -(-(self._queue.qsize() + 1) // idle))
            batch: list[_Waiting] = []
            while True:
                if item is _STOP:
                    stopping = True
                elif isinstance(item, _Waiting) and not item.abandoned:
                    batch.append(item)
                if stopping or len(batch) >= limit or self._queue.empty():
                    break
                item = self._queue.get_nowait()
            task = asyncio.create_task(self._write(batch))
            running.add(task)
            task.add_done_callback(running.discard)
            task.add_done_callback(lambda _: free.release())
        if running:
            await asyncio.gather(*running)

    async def _write(self, batch: list[_Waiting]) -> None:
        if not batch:
            return
        records = [waiting.record for waiting in batch]
        if self.direct:
            try:
                await self._commit(records)
            except Exception as error:
                logger.warning(
                    "consent records: writing to %s failed (%s); decisions go to the spool %s "
                    "until it answers",
                    self.url,
                    error,
                    self.spool,
                )
                self.direct = False
                self._wake_keeper.set()
            else:
                self._known.add(records)
                for waiting in batch:
                    waiting.settle(Stored.COMMITTED)
                return
        with contextlib.suppress(RecordNotKeptError):
            await self._spool(batch)

    async def _commit(self, records: list[DecisionRecord]) -> None:
        """Writes ``records`` in one transaction on a connection the writers keep between
        batches: no pool check-out, ping and reset for each batch. A kept connection that fails
        is dropped and the batch tried once more on a new one (a database restarted since the
        last batch, a connection closed while idle), which is what the pool's ping did; the
        inserts are idempotent, so a batch whose commit failed halfway is kept once."""
        if self._held:
            try:
                await self._commit_on(self._held.pop(), records)
            except Exception as error:  # the kept connection is dropped: once more, on a new one
                logger.debug("consent records: a kept connection failed (%s); a new one", error)
            else:
                return
        await self._commit_on(await self.engine.connect(), records)

    async def _commit_on(self, connection: AsyncConnection, records: list[DecisionRecord]) -> None:
        try:
            async with connection.begin():
                await insert_records(connection, records, self._known.snapshot())
        except BaseException:
            with contextlib.suppress(Exception):
                await connection.invalidate()
                await connection.close()
            raise
        if self._closing:
            await connection.close()
            return
        self._held.append(connection)
        loop = asyncio.get_running_loop()
        self._last_batch = loop.time()
        if self._idle_timer is None:
            self._idle_timer = loop.call_later(HELD_IDLE, self._give_back_if_idle)

    def _give_back_if_idle(self) -> None:
        """Returns the kept connections to the pool once no batch has come for HELD_IDLE
        seconds (under load the next batch always comes sooner)."""
        loop = asyncio.get_running_loop()
        waited = loop.time() - self._last_batch
        if waited < HELD_IDLE:
            self._idle_timer = loop.call_later(HELD_IDLE - waited, self._give_back_if_idle)
            return
        self._idle_timer = None
        idle, self._held = self._held, []
        for connection in idle:
            task = asyncio.create_task(connection.close())
            self._giving_back.add(task)
            task.add_done_callback(self._giving_back.discard)

    # --- replaying ----------------------------------------------------------------------------

    async def replay(self) -> int:
        """Writes the spool into the database now; returns how many records it held. As soon
        as the database answers, new decisions go to it again while the spool is replayed.
        Raises what the database raised if it is still down (the spool is kept)."""
        async with self._replay_lock:
            if self._schema_ready:
                async with self.engine.connect() as connection:
                    await connection.execute(sa.select(1))
            else:
                await ensure_schema(self.engine)
                self._schema_ready = True
            self.direct = True
            return await self.spool.replay(self._insert, self.replay_batch)

    async def _insert(self, records: list[DecisionRecord]) -> None:
        async with self.engine.begin() as connection:
            await insert_records(connection, records, self._known.snapshot())
        self._known.add(records)

    async def _keep_loop(self) -> None:
        reported: str | None = None
        while True:
            interval = self.replay_interval if self.direct else self.retry_interval
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake_keeper.wait(), interval)
            self._wake_keeper.clear()
            if self.direct and not self.spool.pending():
                continue
            try:
                replayed = await self.replay()
            except Exception as error:
                self.direct = False
                if str(error) != reported:
                    level = logging.ERROR if isinstance(error, SchemaVersionError) else logging.INFO
                    logger.log(level, "consent records: cannot replay the spool yet: %s", error)
                    reported = str(error)
                continue
            reported = None
            if replayed:
                logger.info(
                    "consent records: %d spooled records replayed into %s", replayed, self.url
                )

    # --- for tests and tools ----------------------------------------------------------------

    async def count(self) -> int:
        """How many records the database holds."""
        async with self.engine.connect() as connection:
            return int(
                await connection.scalar(sa.select(sa.func.count()).select_from(records_table)) or 0
            )
