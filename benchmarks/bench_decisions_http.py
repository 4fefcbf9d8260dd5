"""Decisions per second and decision latency through uvicorn, the record store on SQLite and on
PostgreSQL.

uvicorn (one worker, or ``--workers N``; ``--lifespan on``; httptools and uvloop when they are
installed) serves ``benchmarks.apps``' page app wrapped in ``ConsentMiddleware`` with the record
store on a new SQLite file, then on a scratch PostgreSQL database. With several workers each
has its own store (SQLite in WAL mode, its writers taking turns; PostgreSQL as it is) and its
own sibling of the spool. Every request is a banner's form POST to
``/_consent`` from a new visitor, with its own ``Idempotency-Key``, answered ``303`` once its
record is committed. The load generator shares the machine, so it is kept cheap: an asyncio
protocol on keep-alive connections, sending pre-built request bytes and reading each response's
status line and headers up to its ``Content-Length``. Two measurements per backend:

- *closed loop*: 64 connections, each sending its next decision when the last one is answered;
  the rate is what the server sustains, the latency what a caller waits.
- *open loop*: decisions scheduled on a clock at a fixed rate (2,000/s) over 64 connections, the
  latency measured from each decision's scheduled time, so that time spent queueing behind a slow
  answer counts (coordinated omission corrected).

An error is any answer but ``303`` and any connection error. Once the server has stopped, the
records are counted: every decision answered ``303`` must be in the database (or, had its commit
been slow, in a spool) exactly once, else the run is broken. "server CPU" is the CPU time of
uvicorn and all its workers per decision; "db CPU" that of every PostgreSQL process on the
machine (others' queries included, when others use the server), for SQLite none (its work is
in the server's). Targets (issue 19, concurrency
64): at least 2,000 decisions/s, p99 at most 25 ms, no error.

    python benchmarks/bench_decisions_http.py             # 20,000 + 20,000 decisions a backend
    python benchmarks/bench_decisions_http.py --quick     # a smoke run
    python benchmarks/bench_decisions_http.py --backend sqlite --json
    python benchmarks/bench_decisions_http.py --workers 2 --http h11

PostgreSQL is found as ``bench_records.py`` finds it (``$CONSENT_TEST_POSTGRES_URL``, else the
local server with the test role); without one its rows are skipped with the reason.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import re
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root

from benchmarks.apps import CHROME_UA, make_bare_app, make_settings
from benchmarks.bench_uvicorn import cpu_seconds
from benchmarks.scaffold import (
    BrokenError,
    UvicornServer,
    command_line,
    print_columns,
    report,
    run,
)

CONCURRENCY = 64
OPEN_LOOP_RATE = 2000.0
TARGET_RATE = 2000.0
TARGET_P99_MS = 25.0
#: Decisions a measurement sends (the open loop: its rate times its seconds).
CLOSED_DECISIONS, QUICK_CLOSED_DECISIONS = 20_000, 500
OPEN_SECONDS, QUICK_OPEN_SECONDS = 10.0, 0.5
#: Decisions sent before measuring: imports done, wording stored, pools filled.
WARM_UP_DECISIONS = 500
#: Seconds a decision may take before it counts as an error (the store answers within 2 s).
ANSWER_TIMEOUT = 10.0
#: The environment variables that tell the server process its store.
URL_VARIABLE = "CONSENT_BENCH_RECORDS_URL"
SPOOL_VARIABLE = "CONSENT_BENCH_RECORDS_SPOOL"
#: What follows a spool's name in the names of its siblings and their ``.replaying`` copies.
SPOOL_FILE = re.compile(r"(\.[0-9]+)?(\.replaying)?")
#: What the decisions send: a banner's three buttons, from a page of the site.
FORM_BODIES = (
    b"action=accept_all&next=%2Fpricing",
    b"action=reject_all&next=%2Fpricing",
    b"action=save&category=analytics&next=%2Fpricing",
)


def records_app() -> Any:
    """The server's app (``uvicorn --factory``): the benchmark page app with the record store
    that :data:`URL_VARIABLE` and :data:`SPOOL_VARIABLE` name."""
    from consent import ConsentMiddleware

    settings = make_settings(
        records_url=os.environ[URL_VARIABLE], records_spool=os.environ[SPOOL_VARIABLE]
    )
    return ConsentMiddleware(make_bare_app(), settings=settings)


def server_stack(http: str | None = None) -> tuple[str, str]:
    """The HTTP parser (``http``, else httptools when installed, else h11) and the event loop
    (uvloop when installed)."""
    http = http or ("httptools" if importlib.util.find_spec("httptools") else "h11")
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    return http, loop


# --- the load generator --------------------------------------------------------------------


def decision_requests(port: int, count: int) -> tuple[list[bytes], list[uuid.UUID]]:
    """``count`` form POSTs to ``/_consent``, each with its own ``Idempotency-Key``."""
    keys = [uuid.uuid4() for _ in range(count)]
    head = (
        f"POST /_consent HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: {CHROME_UA}\r\n"
        "Accept: text/html\r\nAccept-Language: en-GB,en;q=0.9\r\nSec-Fetch-Site: same-origin\r\n"
        f"Referer: http://127.0.0.1:{port}/pricing\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
    ).encode("latin-1")
    requests = [
        b"%sContent-Length: %d\r\nIdempotency-Key: %s\r\n\r\n%s"
        % (head, len(body), str(key).encode("ascii"), body)
        for index, key in enumerate(keys)
        for body in (FORM_BODIES[index % len(FORM_BODIES)],)
    ]
    return requests, keys


class Connection(asyncio.Protocol):
    """One keep-alive connection with one request at a time in flight: :meth:`ask` sends the
    request's bytes and returns the response's status once its body has arrived."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.answer: asyncio.Future[int] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's are not subclasses

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0 or self.answer is None:
            return
        head = bytes(self.buffer[:end]).lower()
        length = 0
        at = head.find(b"\r\ncontent-length:")
        if at >= 0:
            stop = head.find(b"\r\n", at + 2)
            length = int(head[at + 17 : stop if stop >= 0 else end])
        if len(self.buffer) >= end + 4 + length:
            status = int(self.buffer[9:12])
            del self.buffer[: end + 4 + length]
            if not self.answer.done():
                self.answer.set_result(status)

    def connection_lost(self, error: Exception | None) -> None:
        if self.answer is not None and not self.answer.done():
            self.answer.set_exception(error or ConnectionResetError("the server closed"))
        self.transport = None

    async def ask(self, request: bytes) -> int:
        if self.transport is None:
            raise ConnectionResetError("the connection is closed")
        self.answer = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return await asyncio.wait_for(self.answer, ANSWER_TIMEOUT)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def connect(port: int) -> Connection:
    loop = asyncio.get_running_loop()
    _, connection = await loop.create_connection(Connection, "127.0.0.1", port)
    return connection


def process_tree(pid: int) -> list[int]:
    """``pid`` and every process below it (uvicorn's workers, and whatever they start)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as stat:
                    parents[int(entry)] = int(stat.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    tree, found = [pid], True
    while found:
        found = False
        for child, parent in parents.items():
            if parent in tree and child not in tree:
                tree.append(child)
                found = True
    return tree


def tree_cpu_seconds(pid: int) -> float | None:
    """The CPU time of ``pid`` and of every process below it, where /proc has it."""
    times = [cpu_seconds(member) for member in process_tree(pid)]
    return None if times[0] is None else sum(time for time in times if time is not None)


def postgres_cpu_seconds() -> float | None:
    """The CPU time of every PostgreSQL server process on this machine (None without any)."""
    total, seen = 0.0, False
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm", encoding="ascii", errors="replace") as comm:
                    if comm.read().strip() != "postgres":
                        continue
            except OSError:
                continue
            used = cpu_seconds(int(entry))
            if used is not None:
                total, seen = total + used, True
    return total if seen else None


@dataclass
class Phase:
    backend: str
    loop: str  # "closed" or "open"
    decisions: int
    seconds: float
    rate: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    errors: int
    server_cpu_us: float | None  # uvicorn's CPU time per decision, all its workers
    client_cpu_us: float  # the load generator's CPU time per decision
    db_cpu_us: float | None  # every PostgreSQL process's CPU time per decision
    load: float  # the machine's load average (1 minute) as the phase ended

    @property
    def met(self) -> bool:
        rate_met = self.rate >= TARGET_RATE or self.loop == "open"
        return rate_met and self.p99_ms <= TARGET_P99_MS and self.errors == 0


class Load:
    """Sends decisions to one server over :data:`CONCURRENCY` keep-alive connections and keeps
    which ones were answered ``303`` (``acknowledged``)."""

    def __init__(self, server: UvicornServer, backend: str) -> None:
        self.server = server
        self.backend = backend
        self.acknowledged: set[uuid.UUID] = set()
        self.sent = 0

    async def phase(self, loop: str, count: int, rate: float | None = None) -> Phase:
        """``count`` decisions, as fast as they are answered (``rate`` None) or on a clock."""
        requests, keys = decision_requests(self.server.port, count)
        connections = [await connect(self.server.port) for _ in range(CONCURRENCY)]
        latencies: list[float] = []
        errors = 0
        following = 0
        cpu_before, client_before = tree_cpu_seconds(self.server.pid), time.process_time()
        db_before = postgres_cpu_seconds() if self.backend == "PostgreSQL" else None
        started = time.perf_counter() + 0.01

        async def sender(slot: int) -> None:
            nonlocal following, errors
            while following < count:
                index = following
                following += 1
                due = started + index / rate if rate else time.perf_counter()
                if rate and due > time.perf_counter():
                    await asyncio.sleep(due - time.perf_counter())
                try:
                    status = await connections[slot].ask(requests[index])
                except (OSError, TimeoutError) as error:
                    errors += 1
                    connections[slot].close()
                    connections[slot] = await connect(self.server.port)
                    if errors == 1:
                        print(f"{self.backend}: {type(error).__name__}: {error}", file=sys.stderr)
                    continue
                latencies.append(time.perf_counter() - due)
                if status == 303:
                    self.acknowledged.add(keys[index])
                else:
                    errors += 1

        await asyncio.gather(*(sender(slot) for slot in range(CONCURRENCY)))
        seconds = time.perf_counter() - started
        cpu_after, client_after = tree_cpu_seconds(self.server.pid), time.process_time()
        db_after = postgres_cpu_seconds() if db_before is not None else None
        for connection in connections:
            connection.close()
        self.sent += count
        latencies = sorted(latencies) or [float("nan")]
        server_cpu = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
        return Phase(
            backend=self.backend,
            loop=loop,
            decisions=count,
            seconds=seconds,
            rate=count / seconds,
            p50_ms=1000 * latencies[len(latencies) // 2],
            p99_ms=1000 * latencies[int(len(latencies) * 0.99)],
            max_ms=1000 * latencies[-1],
            errors=errors,
            server_cpu_us=None if server_cpu is None else 1e6 * server_cpu / count,
            client_cpu_us=1e6 * (client_after - client_before) / count,
            db_cpu_us=(
                None
                if db_before is None or db_after is None
                else 1e6 * (db_after - db_before) / count
            ),
            load=os.getloadavg()[0],
        )


# --- the runs --------------------------------------------------------------------------------


@dataclass
class Count:
    """The records found once the server has stopped, against the decisions answered 303."""

    backend: str
    sent: int
    acknowledged: int
    in_database: int
    in_spool: int
    missing: int


async def stored_ids(url: str) -> list[uuid.UUID]:
    import sqlalchemy as sa

    from consent.records.database import create_engine, records_table

    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return list(await connection.scalars(sa.select(records_table.c.record_id)))
    finally:
        await engine.dispose()


def spooled_ids(spool: Path) -> list[uuid.UUID]:
    """The record ids in the spool, in its workers' siblings (``<spool>.1``, …) and in their
    ``.replaying`` copies, if a replay was cut."""
    found = []
    for path in sorted(spool.parent.glob(spool.name + "*")):
        if not SPOOL_FILE.fullmatch(path.name[len(spool.name) :]):
            continue  # a .lock or .rejected file
        for line in path.read_bytes().splitlines():
            if line.strip():
                found.append(uuid.UUID(json.loads(line)["record_id"]))
    return found


async def count_records(load: Load, url: str, spool: Path) -> Count:
    in_database = await stored_ids(url)
    in_spool = spooled_ids(spool)
    if len(set(in_database)) != len(in_database):
        raise BrokenError(f"{load.backend}: a record id stored twice")
    kept = set(in_database) | set(in_spool)
    missing = len(load.acknowledged - kept)
    if missing:
        raise BrokenError(f"{load.backend}: {missing} acknowledged decisions have no record")
    return Count(
        load.backend, load.sent, len(load.acknowledged), len(in_database), len(in_spool), missing
    )


@dataclass(frozen=True)
class Server:
    """How uvicorn runs: its HTTP parser and its number of workers."""

    http: str | None = None
    workers: int = 1


async def measure_backend(
    backend: str, url: str, folder: Path, closed: int, open_seconds: float, how: Server
) -> tuple[list[Phase], Count]:
    http, loop = server_stack(how.http)
    spool = folder / f"spool-{backend.lower()}.jsonl"
    env = {**os.environ, URL_VARIABLE: url, SPOOL_VARIABLE: str(spool)}
    options: tuple[str, ...] = ("--factory", "--lifespan", "on", "--loop", loop)
    if how.workers > 1:
        options += ("--workers", str(how.workers))
    app = "benchmarks.bench_decisions_http:records_app"
    with UvicornServer(app, http, options=options, env=env) as server:
        load = Load(server, backend)
        warm_up = await load.phase("warm-up", WARM_UP_DECISIONS)
        if warm_up.errors:
            raise BrokenError(f"{backend}: {warm_up.errors} errors while warming up")
        phases = [
            await load.phase("closed", closed),
            await load.phase("open", int(OPEN_LOOP_RATE * open_seconds), OPEN_LOOP_RATE),
        ]
        server.stop()  # lifespan shutdown: the store writes what is queued, then closes
        if server.process is not None and server.process.returncode not in (0, None):
            raise BrokenError(f"uvicorn exited with {server.process.returncode}")
        if "Traceback" in server.output():
            print(server.output()[-3000:], file=sys.stderr)
    return phases, await count_records(load, url, spool)


async def measure(
    backends: list[str], closed: int, open_seconds: float, how: Server
) -> tuple[list[Phase], list[Count], list[str]]:
    from benchmarks.bench_records import drop_scratch, postgres_scratch

    phases: list[Phase] = []
    counts: list[Count] = []
    skipped: list[str] = []
    with tempfile.TemporaryDirectory(prefix="consent-bench-http-") as name:
        folder = Path(name)
        if "sqlite" in backends:
            url = f"sqlite+aiosqlite:///{folder}/records.sqlite3"
            found, count = await measure_backend("SQLite", url, folder, closed, open_seconds, how)
            phases += found
            counts.append(count)
        if "postgresql" in backends:
            scratch = await postgres_scratch()
            if isinstance(scratch, str):
                skipped.append(scratch)
            else:
                server, database = scratch
                try:
                    url = server.set(database=database).render_as_string(hide_password=False)
                    found, count = await measure_backend(
                        "PostgreSQL", url, folder, closed, open_seconds, how
                    )
                    phases += found
                    counts.append(count)
                finally:
                    await drop_scratch(server, database)
    return phases, counts, skipped


HEADERS = (
    "backend", "loop", "decisions", "decisions/s", "p50 ms", "p99 ms", "max ms", "errors",
    "server CPU µs", "client CPU µs", "db CPU µs", "load", "met",
)  # fmt: skip


def print_text(result: dict[str, Any]) -> None:
    workers = result["workers"]
    print(
        f"POST /_consent through uvicorn {result['uvicorn']} ({workers} worker"
        f"{'s' if workers > 1 else ''}, http: {result['http']}, loop: {result['loop']}, the "
        f"load generator's too), {CONCURRENCY} connections, {os.cpu_count()} CPUs; targets: "
        f"≥ {TARGET_RATE:,.0f}/s, p99 ≤ {TARGET_P99_MS:g} ms, 0 errors"
    )
    print_columns(
        HEADERS,
        [
            (
                p["backend"],
                p["loop"] if p["loop"] == "closed" else f"open {OPEN_LOOP_RATE:,.0f}/s",
                f"{p['decisions']:,}",
                f"{p['rate']:,.0f}",
                f"{p['p50_ms']:.1f}",
                f"{p['p99_ms']:.1f}",
                f"{p['max_ms']:.1f}",
                p["errors"],
                "?" if p["server_cpu_us"] is None else f"{p['server_cpu_us']:.0f}",
                f"{p['client_cpu_us']:.0f}",
                "-" if p["db_cpu_us"] is None else f"{p['db_cpu_us']:.0f}",
                f"{p['load']:.1f}",
                "yes" if p["met"] else "no",
            )
            for p in result["phases"]
        ],
        left=(0, 1),
    )
    for c in result["counts"]:
        print(
            f"{c['backend']}: {c['acknowledged']:,} of {c['sent']:,} decisions answered 303; "
            f"{c['in_database']:,} records in the database, {c['in_spool']:,} in the spool, "
            f"{c['missing']} missing"
        )
    for reason in result["skipped"]:
        print(f"skipped: {reason}")


def main(argv: list[str] | None = None) -> int:
    parser = command_line(__doc__, "500 closed-loop decisions and 0.5 s of the open loop")
    parser.add_argument(
        "--backend",
        action="append",
        choices=("sqlite", "postgresql"),
        help="measure only this backend (repeatable; default both)",
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="uvicorn's --workers (default 1: one process)"
    )
    parser.add_argument(
        "--http",
        choices=("httptools", "h11"),
        help="uvicorn's HTTP parser (default httptools when installed, else h11)",
    )
    args = parser.parse_args(argv)
    how = Server(args.http, max(1, args.workers))
    closed = QUICK_CLOSED_DECISIONS if args.quick else CLOSED_DECISIONS
    open_seconds = QUICK_OPEN_SECONDS if args.quick else OPEN_SECONDS
    backends = args.backend or ["sqlite", "postgresql"]
    http, loop = server_stack(how.http)
    if loop == "uvloop":  # the load generator on the cheaper loop too
        uvloop = importlib.import_module("uvloop")  # optional: not in the project's dependencies
        phases, counts, skipped = uvloop.run(measure(backends, closed, open_seconds, how))
    else:
        phases, counts, skipped = asyncio.run(measure(backends, closed, open_seconds, how))
    import uvicorn

    result = {
        "uvicorn": uvicorn.__version__,
        "http": http,
        "loop": loop,
        "workers": how.workers,
        "phases": [{**asdict(p), "met": p.met} for p in phases],
        "counts": [asdict(c) for c in counts],
        "skipped": skipped,
    }
    return report(result, args.json, print_text)


if __name__ == "__main__":
    run(main)
