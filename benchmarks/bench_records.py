"""Decisions per second and latency of the consent-record store, on SQLite and PostgreSQL.

In-process, no HTTP: 64 asyncio tasks call ``await store.record(record)`` as fast as they can,
each record its own decision (a new record id, the wording already stored), until the run's
count is reached. Decisions that arrive together share a transaction (group commit); SQLite runs
with ``synchronous=FULL``, PostgreSQL with its defaults (``synchronous_commit=on``), so every
acknowledged record is on disk. Latency is the time one ``store.record`` call takes; the rate is
records acknowledged per second of wall time. Each backend runs ``--rounds`` times and the
median round is reported. Targets (issue 19, at concurrency 64): at least 2,000 decisions/s and a
p99 of at most 25 ms, with no record spooled or lost.

    python benchmarks/bench_records.py            # 20,000 decisions a round, 3 rounds
    python benchmarks/bench_records.py --quick    # a smoke run: 2,000 decisions, 1 round
    python benchmarks/bench_records.py --json

PostgreSQL is ``$CONSENT_TEST_POSTGRES_URL`` or the local server with the test role that
``scripts/check.sh`` creates; a scratch database is created on it and dropped afterwards. Without
a server the PostgreSQL rows are skipped with the reason. Exits non-zero only when something is
broken (a record neither committed nor spooled, or not stored exactly once), never because of the
figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from benchmarks.scaffold import print_columns
from consent.records import DecisionRecord, OfferedCategory, RecordStore, Stored, Wording
from consent.records.database import records_url

CONCURRENCY = 64
TARGET_RATE = 2000.0
TARGET_P99_MS = 25.0
POSTGRES_URL_ENV = "CONSENT_TEST_POSTGRES_URL"
LOCAL_POSTGRES_URL = "postgresql+asyncpg://consent:consent-test@127.0.0.1:5432/consent"
WORDING = Wording.build(
    "en",
    {"banner.title": "We use cookies", "banner.accept": "Accept all", "banner.reject": "Reject"},
    (
        OfferedCategory("necessary", "Necessary", "The site cannot work without these.", True),
        OfferedCategory("analytics", "Analytics", "How the site is used."),
        OfferedCategory("marketing", "Marketing", "Advertising that fits you."),
    ),
)
AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)


class BrokenError(Exception):
    """A record was lost or stored twice (not a timing problem)."""


@dataclass
class Round:
    backend: str
    decisions: int
    seconds: float
    rate: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    committed: int
    spooled: int
    transactions: int


def decisions(count: int) -> list[DecisionRecord]:
    return [
        DecisionRecord.create(
            consent_id=f"bench-{number:08d}",
            action="save" if number % 3 else "accept_all",
            granted=("necessary", "analytics") if number % 2 else ("necessary",),
            refused=("marketing",) if number % 2 else ("analytics", "marketing"),
            revision=1,
            source="banner",
            wording=WORDING,
            path="/pricing",
            user_agent=AGENT,
            client_address=f"198.51.100.{number % 250}",
        )
        for number in range(count)
    ]


async def one_round(backend: str, url: str, folder: Path, count: int) -> Round:
    records = decisions(count)
    latencies: list[float] = []
    outcomes: Counter[Stored] = Counter()
    transactions = 0

    def counted(_: Any) -> None:
        nonlocal transactions
        transactions += 1

    store = RecordStore(url, spool_path=folder / f"spool-{uuid.uuid4().hex}")
    await store.start()
    await store.record(decisions(1)[0])  # the wording stored, a connection open
    before = await store.count()
    sa.event.listen(store.engine.sync_engine, "commit", counted)
    pending = iter(records)

    async def caller() -> None:
        for record in pending:
            started = time.perf_counter()
            outcomes[await store.record(record)] += 1
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(CONCURRENCY)))
    seconds = time.perf_counter() - started
    stored = await store.count()
    await store.close()
    if sum(outcomes.values()) != count:
        raise BrokenError(f"{backend}: {sum(outcomes.values())} of {count} acknowledged")
    if outcomes[Stored.SPOOLED] == 0 and stored - before != count:
        raise BrokenError(f"{backend}: {stored - before} records stored for {count} decisions")
    latencies.sort()
    return Round(
        backend=backend,
        decisions=count,
        seconds=seconds,
        rate=count / seconds,
        p50_ms=1000 * latencies[len(latencies) // 2],
        p99_ms=1000 * latencies[int(len(latencies) * 0.99)],
        max_ms=1000 * latencies[-1],
        committed=outcomes[Stored.COMMITTED],
        spooled=outcomes[Stored.SPOOLED],
        transactions=transactions,
    )


async def _admin(url: sa.URL, statement: str) -> None:
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(sa.text(statement))
    finally:
        await engine.dispose()


async def postgres_scratch() -> tuple[sa.URL, str] | str:
    """A scratch database on the test server: its server URL and name, or why there is none."""
    server = records_url(os.environ.get(POSTGRES_URL_ENV) or LOCAL_POSTGRES_URL)
    name = f"consent_bench_{uuid.uuid4().hex[:8]}"
    try:
        await _admin(server, f'CREATE DATABASE "{name}"')
    except Exception as error:
        return f"no PostgreSQL to measure ({server.render_as_string()}: {error})"
    return server, name


async def drop_scratch(server: sa.URL, name: str) -> None:
    """Drops the scratch database ``name`` (retried: an autovacuum worker may hold it)."""
    for _ in range(20):
        try:
            await _admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            return
        except sa.exc.DBAPIError:
            await asyncio.sleep(0.5)


async def run_backend(backend: str, url: str, folder: Path, count: int, rounds: int) -> Round:
    results = [await one_round(backend, url, folder, count) for _ in range(rounds)]
    return sorted(results, key=lambda result: result.rate)[len(results) // 2]


async def measure(count: int, rounds: int) -> tuple[list[Round], list[str]]:
    results, skipped = [], []
    with tempfile.TemporaryDirectory(prefix="consent-bench-") as folder:
        sqlite_url = f"sqlite+aiosqlite:///{folder}/records.sqlite3"
        results.append(await run_backend("SQLite", sqlite_url, Path(folder), count, rounds))
        scratch = await postgres_scratch()
        if isinstance(scratch, str):
            skipped.append(scratch)
        else:
            server, name = scratch
            try:
                url = server.set(database=name).render_as_string(hide_password=False)
                results.append(await run_backend("PostgreSQL", url, Path(folder), count, rounds))
            finally:
                await drop_scratch(server, name)
    return results, skipped


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2,000 decisions, one round")
    parser.add_argument("--decisions", type=int, help="decisions a round (default 20,000)")
    parser.add_argument("--rounds", type=int, help="rounds per backend (default 3)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    count = args.decisions or (2000 if args.quick else 20_000)
    rounds = args.rounds or (1 if args.quick else 3)
    try:
        results, skipped = asyncio.run(measure(count, rounds))
    except BrokenError as error:
        print(f"bench_records: BROKEN: {error}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({"rounds": [asdict(r) for r in results], "skipped": skipped}, indent=2))
        return 0
    print(
        f"store.record at concurrency {CONCURRENCY}, {count:,} decisions a round, median of "
        f"{rounds} round{'s' if rounds > 1 else ''} (targets: ≥ {TARGET_RATE:,.0f}/s, "
        f"p99 ≤ {TARGET_P99_MS:g} ms)"
    )
    print_columns(
        ("backend", "decisions/s", "p50 ms", "p99 ms", "max ms", "per commit", "spooled", "met"),
        [
            (
                r.backend,
                f"{r.rate:,.0f}",
                f"{r.p50_ms:.1f}",
                f"{r.p99_ms:.1f}",
                f"{r.max_ms:.1f}",
                f"{r.decisions / max(r.transactions, 1):.1f}",
                r.spooled,
                "yes" if r.rate >= TARGET_RATE and r.p99_ms <= TARGET_P99_MS else "no",
            )
            for r in results
        ],
    )
    for reason in skipped:
        print(f"skipped: {reason}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
