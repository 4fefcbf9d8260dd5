"""The record store on real SQLite and PostgreSQL: commits, idempotency, group commit, schema
versions, bad settings, and the bounded wait for a slow database."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consent.records import (
    RecordsConfigurationError,
    RecordStore,
    SchemaVersionError,
    SpoolInUseError,
    Stored,
    open_store,
)
from consent.records import database as database_module
from consent.records import spool as spool_module
from consent.records import store as store_module
from consent.records.database import (
    create_engine,
    record_of,
    records_table,
    schema_table,
    wordings_table,
)
from consent.records.model import DecisionRecord, Wording
from tests.records.helpers import (
    CATEGORIES,
    WORDING_FR,
    execute,
    make_record,
    run,
    stored_ids,
)

DEAD_POSTGRES = "postgresql+asyncpg://consent:secret-password@127.0.0.1:9/consent"


async def _read_back(url: str) -> list[DecisionRecord]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            wordings = {
                row.fingerprint: Wording.from_canonical(row.wording)
                for row in await connection.execute(sa.select(wordings_table))
            }
            rows = await connection.execute(
                sa.select(records_table).order_by(records_table.c.recorded_at)
            )
            return [record_of(row, wordings[row.wording_fingerprint]) for row in rows]
    finally:
        await engine.dispose()


def test_a_record_is_committed_and_read_back_field_for_field(
    database_url: str, tmp_path: Path
) -> None:
    hostile = DecisionRecord.create(
        consent_id="odd\x00id",
        action="reject_all",
        granted=["necessary"],
        refused=["analytics", "marketing"],
        revision=2,
        source="settings page",
        wording=WORDING_FR,
        path=b"/caf\xc3\xa9?\xff",
        user_agent=b"\xff\xfe" * 50_000 + b"\x00",
        client_address="2001:db8:abcd:12::1",
    )
    records = [make_record(1), hostile]

    async def scenario() -> list[Stored]:
        async with RecordStore(database_url, spool_path=tmp_path / "spool") as store:
            return [await store.record(record) for record in records]

    assert run(scenario()) == [Stored.COMMITTED, Stored.COMMITTED]
    assert sorted(run(_read_back(database_url)), key=lambda r: r.path) == sorted(
        records, key=lambda r: r.path
    )
    assert not (tmp_path / "spool").read_bytes()


def test_the_same_record_twice_is_kept_once(database_url: str, tmp_path: Path) -> None:
    record = make_record(5)

    async def scenario() -> list[Stored]:
        async with RecordStore(database_url, spool_path=tmp_path / "spool") as store:
            together = await asyncio.gather(store.record(record), store.record(record))
            return [*together, await store.record(record)]

    assert run(scenario()) == [Stored.COMMITTED] * 3
    assert run(stored_ids(database_url)) == {record.record_id: 1}


def test_two_instances_writing_overlapping_retried_decisions_keep_each_once(
    database_url: str, tmp_path: Path
) -> None:
    """Two stores (as two server processes would) on one database, each receiving 1,500 of
    2,000 decisions, 1,000 of them retried at both: every record once, none lost to a conflict
    or a deadlock (those would show as spooled records)."""
    records = [make_record(number) for number in range(2000)]

    async def instance(name: str, mine: list[DecisionRecord]) -> list[Stored]:
        # A generous wait: on a busy machine, 3,000 decisions at once may take longer than
        # the default 2 s, and a spooled record here must mean a conflict, not a slow disk.
        store = RecordStore(database_url, spool_path=tmp_path / name, commit_wait=60)
        async with store:
            return list(await asyncio.gather(*(store.record(record) for record in mine)))

    async def scenario() -> list[Stored]:
        first, second = await asyncio.gather(
            instance("a", records[:1500]), instance("b", records[500:][::-1])
        )
        return first + second

    outcomes = run(scenario())
    assert outcomes == [Stored.COMMITTED] * 3000
    assert run(stored_ids(database_url)) == {record.record_id: 1 for record in records}


@pytest.mark.parametrize("writers", [1, 3])
def test_decisions_arriving_together_share_a_transaction(
    database_url: str, tmp_path: Path, writers: int
) -> None:
    commits: list[int] = []

    async def scenario() -> list[Stored]:
        store = RecordStore(
            database_url,
            spool_path=tmp_path / "spool",
            max_batch=64,
            commit_wait=60,
            writers=writers,
        )
        await store.start()
        sa.event.listen(store.engine.sync_engine, "commit", lambda _: commits.append(1))
        try:
            return list(await asyncio.gather(*(store.record(make_record(n)) for n in range(1000))))
        finally:
            await store.close()

    assert run(scenario()) == [Stored.COMMITTED] * 1000
    assert len(run(stored_ids(database_url))) == 1000
    # 1,000 decisions at once: at least 1000/64 transactions, and far fewer than one each.
    assert 16 <= len(commits) <= 100, commits


@settings(max_examples=15, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.lists(st.sampled_from(["en", "fr", "de"]), max_size=6), max_size=6))
def test_the_wordings_a_store_skips_as_known_are_all_in_the_database(
    tmp_path: Path, batches: list[list[str]]
) -> None:
    """The store does not send wordings it has committed before (the fast path); the slow
    path would send them all. Either way, every record's wording is in the table."""
    wordings = {
        language: Wording.build(language, {"title": f"title in {language}"}, CATEGORIES)
        for language in ("en", "fr", "de")
    }
    folder = tmp_path / f"run-{time.monotonic_ns()}"
    folder.mkdir()
    url = f"sqlite+aiosqlite:///{folder}/records.sqlite3"
    number = 0

    async def scenario() -> None:
        nonlocal number
        async with RecordStore(url, spool_path=folder / "spool", max_batch=4) as store:
            for batch in batches:
                records = []
                for language in batch:
                    number += 1
                    records.append(make_record(number, wording=wordings[language]))
                assert set(await asyncio.gather(*map(store.record, records))) <= {Stored.COMMITTED}

    run(scenario())
    stored = run(_read_back(url))
    assert len(stored) == number
    assert {record.wording for record in stored} == {
        wordings[language] for batch in batches for language in batch
    }


def test_connections_switching_a_new_sqlite_file_to_wal_together_all_succeed(
    tmp_path: Path,
) -> None:
    """SQLite answers "database is locked" at once, busy timeout or not, to all but one of the
    connections that switch a new file to WAL together; each is tried again (six at a time
    failed in about one try in five without it)."""
    for trial in range(40):
        path = tmp_path / f"new-{trial}.sqlite3"
        together = threading.Barrier(6)
        errors: list[str] = []

        def connect(
            path: Path = path, together: threading.Barrier = together, errors: list[str] = errors
        ) -> None:
            connection = sqlite3.connect(path, timeout=database_module.SQLITE_BUSY_TIMEOUT)
            connection.isolation_level = None
            together.wait()
            try:
                database_module._switch_to_wal(connection.cursor())
            except sqlite3.OperationalError as error:
                errors.append(str(error))
            finally:
                connection.close()

        threads = [threading.Thread(target=connect) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == [], f"trial {trial}"


def test_instances_starting_together_create_the_schema_once(
    database_url: str, tmp_path: Path
) -> None:
    async def start(number: int) -> Stored:
        # A generous wait: this is about the schema, not latency on a busy machine.
        store = RecordStore(database_url, spool_path=tmp_path / f"spool-{number}", commit_wait=30)
        async with store:
            return await store.record(make_record(number))

    async def scenario() -> list[Stored]:
        return list(await asyncio.gather(*map(start, range(6))))

    assert run(scenario()) == [Stored.COMMITTED] * 6
    assert sum(run(stored_ids(database_url)).values()) == 6

    async def versions() -> list[int]:
        engine = create_engine(database_url)
        async with engine.connect() as connection:
            found = list(await connection.scalars(sa.select(schema_table.c.version)))
        await engine.dispose()
        return found

    assert run(versions()) == [1]


def test_an_unknown_schema_version_stops_start_up_naming_it(
    database_url: str, tmp_path: Path
) -> None:
    async def start() -> None:
        async with RecordStore(database_url, spool_path=tmp_path / "spool") as store:
            await store.record(make_record(1))

    run(start())
    run(execute(database_url, "UPDATE consent_schema SET version = 99"))
    with pytest.raises(SchemaVersionError, match=r"records_url: .*schema version 99.* 1 only"):
        run(start())
    assert sum(run(stored_ids(database_url)).values()) == 1


def test_none_turns_the_store_off_and_bad_urls_name_the_setting(tmp_path: Path) -> None:
    assert open_store("none") is None
    assert open_store(" None ") is None
    for url, reason in [
        ("nonsense", "is not a database URL"),
        ("mysql://user@host/db", "neither SQLite nor PostgreSQL"),
        ("postgresql+psycopg2://user:pw@host/db", "names the driver 'psycopg2'"),
    ]:
        with pytest.raises(RecordsConfigurationError, match=f"^records_url: .*{reason}"):
            open_store(url, tmp_path / "spool")


def test_plain_sqlite_and_postgresql_urls_get_the_async_drivers(tmp_path: Path) -> None:
    sqlite_store = RecordStore(f"sqlite:///{tmp_path}/a.sqlite3", spool_path=tmp_path / "s")
    postgres_store = RecordStore("postgres://u:p@localhost/db", spool_path=tmp_path / "s")
    assert sqlite_store.engine.url.drivername == "sqlite+aiosqlite"
    assert postgres_store.engine.url.drivername == "postgresql+asyncpg"
    assert "***" in postgres_store.url


def test_a_missing_sqlite_folder_or_an_unusable_file_is_a_configuration_error(
    tmp_path: Path,
) -> None:
    with pytest.raises(RecordsConfigurationError, match=r"^records_url: .* does not exist"):
        RecordStore(f"sqlite:///{tmp_path}/missing/records.sqlite3", spool_path=tmp_path / "s")
    (tmp_path / "notes.txt").write_text("not a database, but a page of notes\n" * 200)
    store = RecordStore(f"sqlite:///{tmp_path}/notes.txt", spool_path=tmp_path / "spool")
    with pytest.raises(
        RecordsConfigurationError, match=r"^records_url: cannot use .*not a database"
    ):
        run(store.start())


def test_a_wrong_postgres_password_or_host_is_a_configuration_error(
    postgres_url: str, tmp_path: Path
) -> None:
    wrong_password = sa.make_url(postgres_url).set(password="wrong-password")
    for url in (
        wrong_password.render_as_string(hide_password=False),
        "postgresql://consent:secret@no-such-host.invalid/consent",
    ):
        store = RecordStore(url, spool_path=tmp_path / "spool")
        with pytest.raises(RecordsConfigurationError, match=r"^records_url: cannot use") as raised:
            run(store.start())
        assert "wrong-password" not in str(raised.value)
        assert "secret" not in str(raised.value)


def test_a_database_down_at_start_up_is_a_warning_and_decisions_are_spooled(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> list[Stored]:
        async with RecordStore(DEAD_POSTGRES, spool_path=tmp_path / "spool") as store:
            assert not store.direct
            return list(await asyncio.gather(*(store.record(make_record(n)) for n in range(50))))

    with caplog.at_level(logging.WARNING, logger="consent.records"):
        assert run(scenario()) == [Stored.SPOOLED] * 50
    assert "does not answer" in caplog.text
    assert "secret-password" not in caplog.text
    assert len((tmp_path / "spool").read_bytes().splitlines()) == 50


def test_one_spool_serves_one_process_at_a_time(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Workers started with one spool path each take a numbered spool of their own, and a
    restarted one takes the same name again (so it replays what was left there)."""
    monkeypatch.setattr(spool_module, "MAX_SPOOLS", 2)

    async def scenario() -> None:
        async with (
            RecordStore(sqlite_url, spool_path=tmp_path / "spool") as first,
            RecordStore(sqlite_url, spool_path=tmp_path / "spool") as second,
        ):
            assert first.spool.path == tmp_path / "spool"
            assert second.spool.path == tmp_path / "spool.1"
            third = RecordStore(sqlite_url, spool_path=tmp_path / "spool")
            with pytest.raises(SpoolInUseError, match="used by other processes"):
                await third.start()
        # Released on close: the next one takes the first name again.
        async with RecordStore(sqlite_url, spool_path=tmp_path / "spool") as again:
            assert again.spool.path == tmp_path / "spool"

    run(scenario())


def test_a_slow_database_answers_within_the_bounded_wait_and_loses_nothing(
    database_url: str, tmp_path: Path
) -> None:
    """The table is locked by another connection: decisions are spooled after ``commit_wait``,
    the blocked transaction still commits when the lock goes, and the replay then finds those
    records stored: each is in the database exactly once."""
    records = [make_record(number) for number in range(40)]
    first = make_record(1000)
    wait = 0.3

    async def scenario() -> tuple[list[Stored], float]:
        store = RecordStore(database_url, spool_path=tmp_path / "spool", commit_wait=wait)
        await store.start()
        await store.record(first)  # the tables exist, the wording is known
        lock = await _lock_table(database_url)
        try:
            started = time.monotonic()
            outcomes = await asyncio.gather(*(store.record(record) for record in records))
            elapsed = time.monotonic() - started
        finally:
            await lock()
        await store.replay()
        await store.close()
        return list(outcomes), elapsed

    outcomes, elapsed = run(scenario())
    assert set(outcomes) == {Stored.SPOOLED}
    assert elapsed < wait + 1.5
    expected = {record.record_id: 1 for record in [*records, first]}
    assert run(stored_ids(database_url)) == expected


async def _lock_table(url: str) -> Callable[[], Awaitable[None]]:
    """Locks the records table from another connection; returns the coroutine function that
    lets it go."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        holder = sqlite3.connect(parsed.database or "", isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")

        async def release_sqlite() -> None:
            holder.execute("ROLLBACK")
            holder.close()

        return release_sqlite
    engine = create_engine(url)
    connection = await engine.connect()
    await connection.execute(sa.text("LOCK TABLE consent_records IN ACCESS EXCLUSIVE MODE"))

    async def release_postgres() -> None:
        await connection.rollback()
        await connection.close()
        await engine.dispose()

    return release_postgres


def test_a_committed_decisions_timer_is_let_go_and_spools_nothing(
    database_url: str, tmp_path: Path
) -> None:
    """The bounded wait is one timer a decision: once the record is committed, the timer is
    cancelled, so nothing is spooled when ``commit_wait`` later passes."""
    wait = 0.2
    records = [make_record(number) for number in range(30)]

    async def scenario() -> tuple[list[Stored], int, bool]:
        store = RecordStore(database_url, spool_path=tmp_path / "spool", commit_wait=wait)
        await store.start()
        outcomes = await asyncio.gather(*(store.record(record) for record in records))
        timers = [  # the event loop's timers still to fire (asyncio's own loop keeps a heap)
            handle
            for handle in getattr(asyncio.get_running_loop(), "_scheduled", [])
            if not handle.cancelled() and "_Waiting.expire" in repr(handle)
        ]
        await asyncio.sleep(wait * 3)  # every timer would have fired by now
        pending = store.spool.pending()
        await store.close()
        return list(outcomes), len(timers), pending

    outcomes, live_timers, pending = run(scenario())
    assert set(outcomes) == {Stored.COMMITTED}
    assert live_timers == 0
    assert not pending
    assert run(stored_ids(database_url)) == {record.record_id: 1 for record in records}


def test_a_caller_cancelled_while_waiting_leaves_the_writer_and_the_others_unharmed(
    database_url: str, tmp_path: Path
) -> None:
    """A decision whose request is cancelled while it waits for its commit (the server shutting
    the connection down) does not break the batch it is in: the others are committed, and so
    is its record, once."""
    records = [make_record(number) for number in range(20)]

    async def scenario() -> tuple[list[Stored | BaseException], bool]:
        store = RecordStore(database_url, spool_path=tmp_path / "spool", commit_wait=5)
        await store.start()
        tasks = [asyncio.create_task(store.record(record)) for record in records]
        await asyncio.sleep(0)  # every record is queued; none is committed yet
        tasks[3].cancel()
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        pending = store.spool.pending()
        await store.close()
        return list(outcomes), pending

    outcomes, pending = run(scenario())
    assert isinstance(outcomes[3], asyncio.CancelledError)
    assert set(outcomes[:3] + outcomes[4:]) == {Stored.COMMITTED}
    assert not pending
    assert run(stored_ids(database_url)) == {record.record_id: 1 for record in records}


def test_the_writer_keeps_its_connection_between_batches(database_url: str, tmp_path: Path) -> None:
    """Batch after batch goes through the one connection the writer keeps: no check-out from
    the pool (with its ping and its reset) per batch."""
    records = [make_record(number) for number in range(6)]

    async def scenario() -> tuple[list[Stored], int]:
        store = RecordStore(database_url, spool_path=tmp_path / "spool")
        await store.start()
        checkouts = []
        sa.event.listen(store.engine.sync_engine, "checkout", lambda *_: checkouts.append(1))
        outcomes = [await store.record(record) for record in records]  # a batch each
        await store.close()
        return outcomes, len(checkouts)

    outcomes, checkouts = run(scenario())
    assert outcomes == [Stored.COMMITTED] * len(records)
    assert checkouts == 1
    assert run(stored_ids(database_url)) == {record.record_id: 1 for record in records}


def test_a_kept_connection_the_server_closed_is_replaced_and_nothing_is_spooled(
    postgres_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The server ends the writer's idle connection (a restart, an idle timeout): the next
    batch is written on a new connection, as the pool's ping would have done, not spooled."""
    first, second = make_record(1), make_record(2)

    async def scenario() -> tuple[Stored, Stored, bool]:
        store = RecordStore(postgres_url, spool_path=tmp_path / "spool")
        await store.start()
        before = await store.record(first)
        (kept,) = store._held
        raw = await kept.get_raw_connection()
        pid = raw.driver_connection.get_server_pid()  # type: ignore[union-attr]
        killer = create_engine(postgres_url)
        async with killer.connect() as connection:
            await connection.execute(sa.select(sa.func.pg_terminate_backend(pid)))
        await killer.dispose()
        after = await store.record(second)
        pending = store.spool.pending()
        await store.close()
        return before, after, pending

    with caplog.at_level(logging.WARNING, logger="consent.records"):
        before, after, pending = run(scenario())
    assert (before, after) == (Stored.COMMITTED, Stored.COMMITTED)
    assert not pending
    assert "go to the spool" not in caplog.text
    assert run(stored_ids(postgres_url)) == {first.record_id: 1, second.record_id: 1}


def test_an_idle_writer_gives_its_connection_back_to_the_pool(
    database_url: str, tmp_path: Path
) -> None:
    """Once no batch has come for a moment, the kept connection goes back to the pool, so an
    app stopped without its lifespan shutdown (the store never closed) leaves no connection
    checked out; the next batch takes one again."""
    first, second = make_record(1), make_record(2)

    async def scenario() -> tuple[int, int, Stored]:
        store = RecordStore(database_url, spool_path=tmp_path / "spool")
        await store.start()
        await store.record(first)
        busy = store.engine.sync_engine.pool.checkedout()  # type: ignore[attr-defined]
        await asyncio.sleep(store_module.HELD_IDLE * 3)
        idle = store.engine.sync_engine.pool.checkedout()  # type: ignore[attr-defined]
        again = await store.record(second)
        await store.close()
        return busy, idle, again

    busy, idle, again = run(scenario())
    assert (busy, idle, again) == (1, 0, Stored.COMMITTED)
    assert run(stored_ids(database_url)) == {first.record_id: 1, second.record_id: 1}
