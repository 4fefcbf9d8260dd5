"""Faults under load, through a real uvicorn server: the database stopped and started again, and
the server process killed. Afterwards every decision a client saw acknowledged (a 303 that set the
consent cookie) is in the database exactly once; a decision in flight when the process died is
there at most once; nothing is left in the spool.

The outage test runs a PostgreSQL server of its own (``initdb`` and ``pg_ctl``, Debian's
``/usr/lib/postgresql/<version>/bin`` or the ones on the ``PATH``; its data directory and socket
in the test's folder, or in the system's temporary folder as root; on a free port), so that
stopping it disturbs nothing else. The kill test runs on SQLite and on the shared PostgreSQL
server.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from http.cookiejar import CookieJar, DefaultCookiePolicy
from pathlib import Path

import httpx
import pytest

from consent.records import DecisionRecord, Spool
from consent.settings import (
    DEFAULT_COOKIE_NAME,
    DEFAULT_RECORDS_REPLAY_INTERVAL,
    MAX_RECORDS_REPLAY_INTERVAL,
    ConfigurationError,
)
from tests.records.helpers import ServerProcess, make_record, run, stored_ids
from tests.records.private_postgres import PrivatePostgres
from tests.support import make_settings, page_app

#: Decisions in flight at once, each with its own ``Idempotency-Key``.
CONCURRENCY = 32
#: Seconds a single decision may take before the client gives up on it.
REQUEST_TIMEOUT = 15.0
#: The outage: seconds of load before the database stops, while it is down, and once it is back.
LOAD_BEFORE_OUTAGE = 1.5
OUTAGE = 2.0
LOAD_AFTER_OUTAGE = 2.0
#: The kill: seconds of load before the SIGKILL, and of (refused) load after it.
LOAD_BEFORE_KILL = 1.5
LOAD_AFTER_KILL = 0.3
#: The servers' settings: a short commit wait and replay interval, so the spool is written
#: and drained within the test's time.
COMMIT_WAIT = "0.5"
KILL_COMMIT_WAIT = "0.1"
REPLAY_INTERVAL = "0.5"
#: Seconds the spool may take to drain into the database once it answers.
DRAIN_TIMEOUT = 25.0
#: What a spool's own files are called: ``<spool>``, ``<spool>.<n>``, each with ``.replaying``.
SPOOL_FILE = re.compile(r"^(\.\d+)?(\.replaying)?$")


# --- the load -------------------------------------------------------------------------------------


@dataclass
class Tally:
    """What a load sent, what it saw acknowledged, and every other outcome by kind."""

    sent: set[uuid.UUID] = field(default_factory=set)
    acknowledged: set[uuid.UUID] = field(default_factory=set)
    other: Counter[str] = field(default_factory=Counter)


def _sets_consent_cookie(answer: httpx.Response) -> bool:
    return any(
        header.startswith(f"{DEFAULT_COOKIE_NAME}=")
        for header in answer.headers.get_list("set-cookie")
    )


async def _decide(client: httpx.AsyncClient, base: str, number: int, tally: Tally) -> None:
    key = uuid.uuid4()
    tally.sent.add(key)
    form = {"action": ("accept_all", "reject_all")[number % 2], "next": f"/p/{number}"}
    headers = {"idempotency-key": str(key), "user-agent": f"fault-load/{number}"}
    try:
        answer = await client.post(base + "/_consent", data=form, headers=headers)
    except httpx.TransportError as error:
        tally.other[type(error).__name__] += 1
        return
    if answer.status_code == 303 and _sets_consent_cookie(answer):
        tally.acknowledged.add(key)
    else:
        tally.other[f"HTTP {answer.status_code}"] += 1


async def _load(bases: Sequence[str], stop: asyncio.Event, tally: Tally) -> None:
    """``CONCURRENCY`` clients deciding one after another until ``stop``, shared among the
    servers at ``bases``; each decision is a new visitor's (no cookie is kept)."""
    numbers = itertools.count()
    no_cookies = CookieJar(DefaultCookiePolicy(allowed_domains=[]))
    async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT, cookies=no_cookies) as client:

        async def client_loop(base: str) -> None:
            while not stop.is_set():
                await _decide(client, base, next(numbers), tally)

        await asyncio.gather(
            *(client_loop(bases[number % len(bases)]) for number in range(CONCURRENCY))
        )


def _spool_files(spool: Path) -> list[Path]:
    """The spools a server process took at ``spool`` (numbered ones too), and the files their
    replays left."""
    return [
        path
        for path in spool.parent.glob(spool.name + "*")
        if SPOOL_FILE.match(path.name[len(spool.name) :])
    ]


def _spooled(spool: Path) -> int:
    """How many records wait in the spool files."""
    return sum(path.read_bytes().count(b"\n") for path in _spool_files(spool))


async def _until_drained(url: str, expected: set[uuid.UUID], spool: Path) -> Counter[uuid.UUID]:
    """The stored record ids, once ``expected`` are all stored and the spool is empty."""
    deadline = time.monotonic() + DRAIN_TIMEOUT
    while True:
        stored = await stored_ids(url)
        waiting = {path.name: path.stat().st_size for path in _spool_files(spool)}
        if expected <= stored.keys() and not any(waiting.values()):
            return stored
        missing = len(expected - stored.keys())
        assert time.monotonic() < deadline, (
            f"after {DRAIN_TIMEOUT} s, {missing} acknowledged decisions are not in the "
            f"database; spool files: {waiting}"
        )
        await asyncio.sleep(0.25)


def _assert_kept_once(stored: Counter[uuid.UUID], tally: Tally, spool: Path) -> None:
    refused = {kind: times for kind, times in tally.other.items() if kind.startswith("HTTP")}
    assert not refused, f"decisions answered without a 303 and the cookie: {refused}"
    missing = tally.acknowledged - stored.keys()
    assert not missing, f"{len(missing)} acknowledged decisions lost, e.g. {sorted(missing)[:3]}"
    twice = {key: times for key, times in stored.items() if times != 1}
    assert not twice, f"decisions stored more than once: {twice}"
    strangers = stored.keys() - tally.sent
    assert not strangers, f"records of decisions nobody sent: {sorted(strangers)[:3]}"
    rejected = list(spool.parent.glob(spool.name + "*.rejected"))
    assert not rejected, f"spool lines rejected: {rejected}"


# --- the database stopped and started under load --------------------------------------------------


async def _through_an_outage(base: str, database: PrivatePostgres) -> tuple[Tally, int]:
    """The load, with the database stopped in its middle and started again; also how many
    decisions were acknowledged while it was down."""
    tally = Tally()
    stop = asyncio.Event()
    load = asyncio.create_task(_load([base], stop, tally))
    try:
        await asyncio.sleep(LOAD_BEFORE_OUTAGE)
        await asyncio.to_thread(database.stop, "fast")
        before = len(tally.acknowledged)
        await asyncio.sleep(OUTAGE)
        during = len(tally.acknowledged) - before
        await asyncio.to_thread(database.start)
        await asyncio.sleep(LOAD_AFTER_OUTAGE)
    finally:
        stop.set()
        await load
    return tally, during


def test_the_database_stopped_and_started_under_load_loses_nothing(
    private_postgres: PrivatePostgres, tmp_path: Path
) -> None:
    spool = tmp_path / "spool.jsonl"
    server = ServerProcess.start(
        private_postgres.url,
        spool,
        records_commit_wait=COMMIT_WAIT,
        records_replay_interval=REPLAY_INTERVAL,
    )
    try:
        server.wait_until_up()
        tally, during_outage = run(_through_an_outage(server.base, private_postgres))
        stored = run(_until_drained(private_postgres.url, tally.acknowledged, spool))
    finally:
        errors = server.stop()
    print(
        f"{len(tally.sent)} decisions sent, {len(tally.acknowledged)} acknowledged "
        f"({during_outage} while the database was down), other outcomes: {dict(tally.other)}"
    )
    assert not tally.other, f"decisions not answered 303 with the cookie: {dict(tally.other)}"
    assert during_outage > 0, "no decision was acknowledged while the database was down"
    assert "go to the spool" in errors, "the outage never sent a record to the spool"
    assert "Traceback" not in errors, errors
    assert "fault-load/" not in errors, "the log quotes the records' User-Agents"
    _assert_kept_once(stored, tally, spool)


# --- the server killed under load -----------------------------------------------------------------


async def _until_killed(server: ServerProcess) -> Tally:
    """The load, with the server process killed (SIGKILL) in its middle."""
    tally = Tally()
    stop = asyncio.Event()
    load = asyncio.create_task(_load([server.base], stop, tally))
    try:
        await asyncio.sleep(LOAD_BEFORE_KILL)
        server.kill()
        await asyncio.sleep(LOAD_AFTER_KILL)
    finally:
        stop.set()
        await load
    return tally


def test_the_server_killed_under_load_loses_nothing(database_url: str, tmp_path: Path) -> None:
    spool = tmp_path / "spool.jsonl"
    first = ServerProcess.start(database_url, spool, records_commit_wait=KILL_COMMIT_WAIT)
    try:
        first.wait_until_up()
        tally = run(_until_killed(first))
    finally:
        if first.process.poll() is None:
            first.kill()
    assert "Traceback" not in first.errors(), first.errors()
    spooled_at_kill = _spooled(spool)

    second = ServerProcess.start(database_url, spool, records_replay_interval=REPLAY_INTERVAL)
    try:
        second.wait_until_up()
        stored = run(_until_drained(database_url, tally.acknowledged, spool))
    finally:
        errors = second.stop()
    in_flight = len(tally.sent - tally.acknowledged)
    print(
        f"{len(tally.sent)} decisions sent, {len(tally.acknowledged)} acknowledged before the "
        f"kill ({spooled_at_kill} records in the spool then), {in_flight} not acknowledged "
        f"({len(tally.sent - tally.acknowledged - stored.keys())} of them not stored), "
        f"other outcomes: {dict(tally.other)}"
    )
    assert len(tally.acknowledged) > 0
    assert "Traceback" not in errors, errors
    _assert_kept_once(stored, tally, spool)


# --- the servers killed while the database is down, fewer of them started again -------------------


async def _killed_in_an_outage(
    servers: Sequence[ServerProcess], database: PrivatePostgres
) -> Tally:
    """The load on all ``servers``; the database stopped in its middle, then the servers
    killed (SIGKILL) while it is down."""
    tally = Tally()
    stop = asyncio.Event()
    load = asyncio.create_task(_load([server.base for server in servers], stop, tally))
    try:
        await asyncio.sleep(LOAD_BEFORE_OUTAGE)
        await asyncio.to_thread(database.stop, "fast")
        await asyncio.sleep(OUTAGE)
        for server in servers:
            server.kill()
        await asyncio.sleep(LOAD_AFTER_KILL)
    finally:
        stop.set()
        await load
    return tally


def test_the_spools_of_processes_killed_in_an_outage_are_replayed_by_fewer_processes(
    private_postgres: PrivatePostgres, tmp_path: Path
) -> None:
    """Two processes started with one spool path (as uvicorn's workers are), each with its
    spool, killed while the database is down; one process comes back: it replays both spools,
    its own and the one no process holds."""
    spool = tmp_path / "spool.jsonl"
    first: list[ServerProcess] = []
    try:
        for _ in range(2):  # one after the other: the first takes the spool, the second its .1
            server = ServerProcess.start(
                private_postgres.url, spool, records_commit_wait=COMMIT_WAIT
            )
            first.append(server)
            server.wait_until_up()
        tally = run(_killed_in_an_outage(first, private_postgres))
    finally:
        for server in first:
            if server.process.poll() is None:
                server.kill()
    for server in first:
        assert "Traceback" not in server.errors(), server.errors()
    left = {path.name: path.read_bytes().count(b"\n") for path in _spool_files(spool)}
    assert left.get(spool.name) and left.get(f"{spool.name}.1"), f"spooled at the kill: {left}"

    private_postgres.start()
    second = ServerProcess.start(
        private_postgres.url, spool, records_replay_interval=REPLAY_INTERVAL
    )
    try:
        second.wait_until_up()
        stored = run(_until_drained(private_postgres.url, tally.acknowledged, spool))
    finally:
        errors = second.stop()
    print(
        f"{len(tally.sent)} decisions sent, {len(tally.acknowledged)} acknowledged before the "
        f"kill, spooled then: {left}, other outcomes: {dict(tally.other)}"
    )
    assert "Traceback" not in errors, errors
    _assert_kept_once(stored, tally, spool)


def test_a_replay_takes_the_spools_no_process_holds_and_leaves_the_others(tmp_path: Path) -> None:
    """The same, on the spool files alone: of three spools at one path (this process's, a
    running process's, and one whose process is gone, a torn line at its end), a replay
    empties its own and the orphan, and leaves the running one's to it."""
    base = tmp_path / "spool.jsonl"
    spools = [Spool(base) for _ in range(3)]
    for spool in spools:
        spool.open()
    assert [spool.path.name for spool in spools] == [base.name, f"{base.name}.1", f"{base.name}.2"]
    records = [[make_record(3 * number + which) for number in range(4)] for which in range(3)]
    replayed: list[DecisionRecord] = []

    async def insert(batch: list[DecisionRecord]) -> None:
        replayed.extend(batch)

    async def scenario() -> int:
        for spool, batch in zip(spools, records, strict=True):
            await spool.append(batch)
        await spools[2].close()  # its process is gone
        with spools[2].path.open("ab") as torn:
            torn.write(b'{"record_id": "unfinished')
        assert spools[0].pending()
        try:
            return await spools[0].replay(insert, batch_size=3)
        finally:
            for spool in spools[:2]:
                await spool.close()

    assert run(scenario()) == 8
    assert replayed == records[0] + records[2]
    assert not _holds_spooled(spools[0].path) and not _holds_spooled(spools[2].path)
    assert spools[1].path.read_bytes().count(b"\n") == 4
    assert not list(tmp_path.glob("*.rejected"))


def test_a_spool_the_replay_cannot_open_is_reported_once_and_left(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An orphan whose lock cannot be opened (here a folder stands where its lock file goes; on
    a server, files left by another account) does not make the replay fail, which would keep
    the store spooling every decision: its own spool is replayed, the orphan is reported once
    as a warning and left as it is."""
    base = tmp_path / "spool.jsonl"
    orphan = base.with_name(base.name + ".1")
    orphan.write_bytes(make_record(99).json_line().encode() + b"\n")
    orphan.with_name(orphan.name + ".lock").mkdir()
    own = Spool(base)
    own.open()
    spooled = [make_record(1), make_record(2)]
    replayed: list[DecisionRecord] = []

    async def insert(batch: list[DecisionRecord]) -> None:
        replayed.extend(batch)

    async def scenario() -> list[int]:
        await own.append(spooled)
        try:
            return [await own.replay(insert), await own.replay(insert)]
        finally:
            await own.close()

    with caplog.at_level("WARNING", logger="consent.records"):
        assert run(scenario()) == [2, 0]
    assert replayed == spooled
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and str(orphan) in warnings[0].getMessage()
    assert orphan.read_bytes().count(b"\n") == 1


def _holds_spooled(path: Path) -> bool:
    replaying = path.with_name(path.name + ".replaying")
    return replaying.exists() or path.stat().st_size > 0


# --- the replay interval the servers above are given ----------------------------------------------


@pytest.mark.parametrize("interval", [0, -1.0, MAX_RECORDS_REPLAY_INTERVAL + 1])
def test_a_replay_interval_out_of_bounds_is_refused(interval: float) -> None:
    with pytest.raises(ConfigurationError, match="records_replay_interval"):
        make_settings(records_replay_interval=interval)


@pytest.mark.parametrize("interval", [None, 0.5])
def test_the_store_replays_at_the_interval_of_the_settings(
    interval: float | None, sqlite_url: str, tmp_path: Path
) -> None:
    chosen = {} if interval is None else {"records_replay_interval": interval}
    settings = make_settings(records_url=sqlite_url, records_spool=tmp_path / "spool", **chosen)
    store = page_app(settings).endpoints.recorder.store
    assert store is not None
    assert store.replay_interval == (interval or DEFAULT_RECORDS_REPLAY_INTERVAL)
    run(store.engine.dispose())
