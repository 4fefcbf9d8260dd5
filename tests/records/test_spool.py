"""Nothing lost: the spool on a database that is down, its replay in order and without
duplicates, and processes killed with SIGKILL in the middle of recording or replaying."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa

from consent.records import DecisionRecord, RecordStore, Spool, Stored
from consent.records.database import create_engine, ensure_schema, insert_records
from tests.records.helpers import make_record, run, stored_ids
from tests.records.private_postgres import PrivatePostgres

REPO = Path(__file__).resolve().parents[2]
DEAD_POSTGRES = "postgresql+asyncpg://consent:consent@127.0.0.1:9/consent"
WORKERS = 32


def _spooled_ids(*paths: Path) -> list[uuid.UUID]:
    """The record ids in spool files, in their order."""
    ids = []
    for path in paths:
        if path.exists():
            for line in path.read_bytes().splitlines():
                ids.append(uuid.UUID(json.loads(line)["record_id"]))
    return ids


def test_spooled_records_replay_in_order_each_once(database_url: str, tmp_path: Path) -> None:
    records = [make_record(number) for number in range(1234)]
    seen: list[uuid.UUID] = []

    order: list[uuid.UUID] = []

    async def scenario() -> int:
        spool = Spool(tmp_path / "spool")
        spool.open()
        await asyncio.gather(*(spool.append([record]) for record in records[:600]))
        await spool.append(records[600:])
        order.extend(_spooled_ids(tmp_path / "spool"))
        engine = create_engine(database_url)
        await ensure_schema(engine)

        async def insert(batch: list[DecisionRecord]) -> None:
            async with engine.begin() as connection:
                await insert_records(connection, batch)
            seen.extend(record.record_id for record in batch)

        try:
            replayed = await spool.replay(insert, batch_size=100)
            assert not spool.pending()
            assert await spool.replay(insert) == 0
            return replayed
        finally:
            await spool.close()
            await engine.dispose()

    assert run(scenario()) == 1234
    assert seen == order
    assert sorted(order) == sorted(record.record_id for record in records)
    assert run(stored_ids(database_url)) == {record.record_id: 1 for record in records}
    assert not (tmp_path / "spool.replaying").exists()


def test_a_line_cut_by_a_crash_is_dropped_and_later_appends_survive(
    sqlite_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "spool"
    first, later = [make_record(n) for n in range(3)], [make_record(n) for n in range(3, 5)]

    async def scenario() -> int:
        spool = Spool(path)
        spool.open()
        await spool.append(first)
        await spool.close()
        with path.open("ab") as torn:
            torn.write(b'{"record_id": "0fd2c5a4-unfinished')
        spool = Spool(path)
        spool.open()  # cuts the unfinished line
        await spool.append(later)
        try:
            return await _replay(spool, sqlite_url)
        finally:
            await spool.close()

    assert run(scenario()) == 5
    assert run(stored_ids(sqlite_url)) == {r.record_id: 1 for r in first + later}
    assert not (tmp_path / "spool.rejected").exists()


def test_a_line_that_does_not_parse_is_set_aside_and_the_rest_replayed(
    sqlite_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "spool"
    records = [make_record(n) for n in range(4)]

    async def scenario() -> int:
        spool = Spool(path)
        spool.open()
        await spool.append(records[:2])
        await spool.close()
        with path.open("ab") as damaged:
            damaged.write(b'{"not": "a record"}\n')
        spool = Spool(path)
        spool.open()
        await spool.append(records[2:])
        try:
            return await _replay(spool, sqlite_url)
        finally:
            await spool.close()

    assert run(scenario()) == 4
    assert run(stored_ids(sqlite_url)) == {r.record_id: 1 for r in records}
    assert (tmp_path / "spool.rejected").read_bytes() == b'{"not": "a record"}\n'


async def _replay(spool: Spool, url: str, batch_size: int = 100) -> int:
    engine = create_engine(url)
    await ensure_schema(engine)

    async def insert(batch: list[DecisionRecord]) -> None:
        async with engine.begin() as connection:
            await insert_records(connection, batch)

    try:
        return await spool.replay(insert, batch_size)
    finally:
        await engine.dispose()


def test_a_replay_into_a_database_still_down_keeps_everything_for_the_next(
    postgres_url: str, tmp_path: Path
) -> None:
    before, during = [make_record(n) for n in range(300)], [make_record(n) for n in range(300, 350)]

    async def scenario() -> None:
        spool = Spool(tmp_path / "spool")
        spool.open()
        await spool.append(before)
        dead = create_engine(DEAD_POSTGRES)

        async def insert_nowhere(batch: list[DecisionRecord]) -> None:
            async with dead.begin() as connection:
                await insert_records(connection, batch)

        with pytest.raises(OSError, match="Connect call failed"):
            await spool.replay(insert_nowhere)
        await dead.dispose()
        assert (tmp_path / "spool.replaying").exists()
        await spool.append(during)  # a new spool takes appends meanwhile
        assert await _replay(spool, postgres_url) == 350
        await spool.close()

    run(scenario())
    assert run(stored_ids(postgres_url)) == {r.record_id: 1 for r in before + during}


def test_a_database_down_under_load_then_back_keeps_every_acknowledged_decision_once(
    postgres_url: str, tmp_path: Path
) -> None:
    """Decisions under load while the database is unreachable (a port where nothing listens)
    are spooled; a store on the real database then replays them, in the order spooled, while
    new decisions keep coming. Every acknowledged record is stored exactly once."""
    spool_path = tmp_path / "spool"

    async def load(store: RecordStore, seconds: float, acked: Counter[Stored]) -> list[uuid.UUID]:
        ids: list[uuid.UUID] = []
        deadline = time.monotonic() + seconds

        async def worker(first: int) -> None:
            number = first
            while time.monotonic() < deadline:
                record = make_record(number)
                number += WORKERS
                acked[await store.record(record)] += 1
                ids.append(record.record_id)

        await asyncio.gather(*(worker(n) for n in range(WORKERS)))
        return ids

    async def scenario() -> tuple[list[uuid.UUID], list[uuid.UUID], Counter[Stored]]:
        acked: Counter[Stored] = Counter()
        async with RecordStore(DEAD_POSTGRES, spool_path=spool_path) as down:
            while_down = await load(down, 1.0, acked)
        assert acked == {Stored.SPOOLED: len(while_down)}
        order = _spooled_ids(spool_path)
        store = RecordStore(
            postgres_url, spool_path=spool_path, replay_batch=50, replay_interval=0.5
        )
        await store.start()
        after = await load(store, 1.0, acked)
        await _until_replayed(store)
        await store.close()
        return while_down + after, order, acked

    acknowledged, spool_order, acked = run(scenario())
    assert acked[Stored.COMMITTED] > 0
    assert run(stored_ids(postgres_url)) == dict.fromkeys(acknowledged, 1)
    # The replay wrote the spool in its order: later lines, later (or the same) transactions.
    transactions = run(_transaction_ids(postgres_url))
    spooled = [transactions[record_id] for record_id in spool_order]
    assert spooled == sorted(spooled)
    assert len(set(spooled)) > 1


async def _until_replayed(store: RecordStore, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while store.spool.pending() or not store.direct:
        assert time.monotonic() < deadline, "the spool was not replayed"
        await asyncio.sleep(0.05)


async def _transaction_ids(url: str) -> dict[uuid.UUID, int]:
    """Which PostgreSQL transaction wrote each record (its ``xmin``)."""
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                sa.text("SELECT record_id, xmin::text::bigint AS tx FROM consent_records")
            )
            return {row.record_id: row.tx for row in rows}
    finally:
        await engine.dispose()


# --- processes killed with SIGKILL ----------------------------------------------------------


class Child:
    """``python -m tests.records.child …``, its output lines gathered as they come."""

    def __init__(self, *arguments: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.records.child", *arguments],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, enough: int, prefix: str, seconds: float = 60.0) -> None:
        deadline = time.monotonic() + seconds
        while sum(line.startswith(prefix) for line in list(self.lines)) < enough:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"the child stopped ({self.process.returncode}): {self.process.stderr.read()}"  # type: ignore[union-attr]
                )
            assert time.monotonic() < deadline, f"the child printed {len(self.lines)} lines"
            time.sleep(0.005)

    def kill(self) -> list[str]:
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self._reader.join(timeout=30)
        assert self.process.returncode == -signal.SIGKILL
        return self.lines


def test_a_replay_killed_midway_is_finished_by_the_next_each_record_once(
    database_url: str, tmp_path: Path
) -> None:
    spool_path = tmp_path / "spool"
    records = [make_record(number) for number in range(8000)]

    async def write_spool() -> None:
        spool = Spool(spool_path)
        spool.open()
        await spool.append(records)
        await spool.close()
        engine = create_engine(database_url)
        await ensure_schema(engine)
        await engine.dispose()

    run(write_spool())
    child = Child("replay", database_url, str(spool_path), "50")
    child.wait_for(20, "batch ")
    lines = child.kill()
    assert "done" not in lines
    partial = sum(run(stored_ids(database_url)).values())
    assert 20 * 50 <= partial < len(records)
    assert (tmp_path / "spool.replaying").exists()

    async def replay_again() -> int:
        spool = Spool(spool_path)
        spool.open()
        try:
            return await _replay(spool, database_url, batch_size=1000)
        finally:
            await spool.close()

    assert run(replay_again()) == len(records)
    assert run(stored_ids(database_url)) == {record.record_id: 1 for record in records}
    assert not (tmp_path / "spool.replaying").exists()


@pytest.mark.parametrize("target", ["sqlite", "postgres", "postgres-down"])
def test_a_process_killed_under_load_loses_no_acknowledged_decision(
    target: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """A recording process is killed with SIGKILL while 32 tasks record decisions (into the
    database, or into the spool while the database is unreachable). A new store on the same
    database and spool then holds every decision the dead one acknowledged, exactly once."""
    url = str(request.getfixturevalue("sqlite_url" if target == "sqlite" else "postgres_url"))
    spool_path = tmp_path / "spool"
    child = Child("record", DEAD_POSTGRES if target == "postgres-down" else url, str(spool_path))
    child.wait_for(1500, ("spooled " if target == "postgres-down" else "committed "))
    lines = child.kill()
    acknowledged = [
        uuid.UUID(line.split()[1])
        for line in lines
        if line.split()[0]
        in {
            "committed",
            "spooled",
        }
    ]
    assert len(acknowledged) >= 1500

    async def restart() -> None:
        async with RecordStore(url, spool_path=spool_path, replay_interval=0.5) as store:
            await _until_replayed(store)

    run(restart())
    stored = run(stored_ids(url))
    assert all(stored[record_id] == 1 for record_id in acknowledged)
    assert set(stored.values()) == {1}


# --- the real server stopped and started ------------------------------------------------------


def test_the_real_server_stopped_and_started_under_load_loses_nothing(
    private_postgres: PrivatePostgres, tmp_path: Path
) -> None:
    """A PostgreSQL server of the test's own is stopped while 32 tasks record decisions, and
    started again: every decision acknowledged, committed or spooled, is in it exactly once."""
    postgres_url = private_postgres.url

    async def scenario() -> tuple[list[uuid.UUID], Counter[Stored]]:
        acked: Counter[Stored] = Counter()
        ids: list[uuid.UUID] = []
        stop = asyncio.Event()
        store = RecordStore(
            postgres_url,
            spool_path=tmp_path / "spool",
            retry_interval=0.2,
            replay_interval=0.5,  # what a slow commit just after the restart spooled
            commit_wait=1.0,
        )
        await store.start()

        async def worker(first: int) -> None:
            number = first
            while not stop.is_set():
                record = make_record(number)
                number += WORKERS
                acked[await store.record(record)] += 1
                ids.append(record.record_id)

        workers = [asyncio.create_task(worker(n)) for n in range(WORKERS)]
        try:
            await asyncio.sleep(0.7)
            await asyncio.to_thread(private_postgres.stop)
            await asyncio.sleep(1.0)
        finally:
            await asyncio.to_thread(private_postgres.start)
        await asyncio.sleep(1.5)
        stop.set()
        await asyncio.gather(*workers)
        await _until_replayed(store)
        await store.close()
        return ids, acked

    acknowledged, acked = run(scenario())
    assert acked[Stored.COMMITTED] > 0
    assert acked[Stored.SPOOLED] > 0
    assert run(stored_ids(postgres_url)) == dict.fromkeys(acknowledged, 1)
