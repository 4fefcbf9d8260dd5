"""Records, wordings, database look-ups and uvicorn server processes shared by the
consent-record tests."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from consent.records import DecisionRecord, OfferedCategory, Wording
from consent.records.database import create_engine, records_table

T = TypeVar("T")

CATEGORIES = (
    OfferedCategory("necessary", "Necessary", "The site cannot work without these.", True),
    OfferedCategory("analytics", "Analytics", "How the site is used."),
    OfferedCategory("marketing", "Marketing", "Advertising that fits you."),
)
WORDING_EN = Wording.build(
    "en",
    {"banner.title": "We use cookies", "banner.accept": "Accept all", "banner.reject": "Reject"},
    CATEGORIES,
)
WORDING_FR = Wording.build(
    "fr",
    {"banner.title": "Nous utilisons des cookies", "banner.accept": "Tout accepter"},
    CATEGORIES,
)
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
START = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)


def make_record(
    number: int,
    *,
    consent_id: str | None = None,
    recorded_at: datetime | None = None,
    accept: bool | None = None,
    wording: Wording = WORDING_EN,
) -> DecisionRecord:
    """A decision of visitor ``number % 97``: accepting analytics on even numbers."""
    accepted = number % 2 == 0 if accept is None else accept
    return DecisionRecord.create(
        consent_id=consent_id or f"visitor-{number % 97:04d}",
        action="save",
        granted=("necessary", "analytics") if accepted else ("necessary",),
        refused=("marketing",) if accepted else ("analytics", "marketing"),
        revision=1,
        source="banner",
        wording=wording,
        path="/pricing",
        user_agent=CHROME,
        client_address=f"198.51.100.{number % 250}",
        recorded_at=recorded_at or START + timedelta(milliseconds=number),
    )


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


async def stored_ids(url: str) -> Counter[uuid.UUID]:
    """How many times each record id is in the database (a primary key: once, if at all)."""
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            ids = await connection.scalars(sa.select(records_table.c.record_id))
            return Counter(ids)
    finally:
        await engine.dispose()


async def execute(url: str, *statements: str) -> None:
    """Runs SQL statements in one transaction."""
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            for statement in statements:
                await connection.execute(sa.text(statement))
    finally:
        await engine.dispose()


async def admin(url: sa.URL, *statements: str) -> None:
    """Runs statements outside a transaction (``CREATE DATABASE`` needs that)."""
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            for statement in statements:
                await connection.execute(sa.text(statement))
    finally:
        await engine.dispose()


async def drop_database(server: sa.URL, name: str, attempts: int = 20) -> None:
    """Drops a scratch database. ``WITH (FORCE)`` ends the tests' own connections, but not an
    autovacuum worker that a bulk insert woke (a non-superuser may not end that one): such a
    worker is done within moments, so the drop is tried again."""
    for attempt in range(attempts):
        try:
            await admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            return
        except sa.exc.DBAPIError:
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(0.5)


# --- uvicorn processes serving tests/records/server_app.py ------------------------------------

REPO = Path(__file__).resolve().parents[2]
#: Seconds a server process may take to answer its first request (a busy machine is slow).
SERVER_START_TIMEOUT = 30.0
#: Seconds a server process may take to stop once told to.
SERVER_STOP_TIMEOUT = 20.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class ServerProcess:
    """A uvicorn process serving ``tests.records.server_app`` (lifespan on), its settings from
    ``CONSENT_*`` variables, its working directory the spool's folder, its stderr in a file
    there (a pipe nobody reads would fill up and stall it)."""

    process: subprocess.Popen[bytes]
    base: str
    stderr_path: Path

    @classmethod
    def start(cls, url: str, spool: Path, **settings: str) -> ServerProcess:
        """Serves with ``records_url = url``, ``records_spool = spool`` and ``settings``
        (``records_commit_wait="0.5"`` sets ``CONSENT_RECORDS_COMMIT_WAIT``), in a process
        group of its own."""
        port = free_port()
        env = {key: value for key, value in os.environ.items() if not key.startswith("CONSENT_")}
        env |= {
            "CONSENT_SECRET_KEYS": '["process-test-key"]',
            "CONSENT_RECORDS_URL": url,
            "CONSENT_RECORDS_SPOOL": str(spool),
            "CONSENT_COOKIE_INVENTORY": "none",
        }
        env |= {f"CONSENT_{name.upper()}": value for name, value in settings.items()}
        command = [sys.executable, "-m", "uvicorn", "tests.records.server_app:app"]
        command += ["--app-dir", str(REPO), "--port", str(port)]
        command += ["--log-level", "warning", "--lifespan", "on"]
        stderr_path = spool.with_name(f"{spool.name}.{port}.stderr")
        with stderr_path.open("wb") as stderr:
            process = subprocess.Popen(
                command, cwd=spool.parent, env=env, stderr=stderr, start_new_session=True
            )
        return cls(process, f"http://127.0.0.1:{port}", stderr_path)

    def errors(self) -> str:
        """What the process wrote to stderr so far."""
        return self.stderr_path.read_text(errors="replace")

    def wait_until_up(self) -> None:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while True:
            assert self.process.poll() is None, self.errors()
            try:
                httpx.get(self.base + "/", timeout=2)
                return
            except httpx.TransportError:
                assert time.monotonic() < deadline, f"{self.base} did not answer in time"
                time.sleep(0.1)

    def stop(self) -> str:
        """Stops the process as a supervisor would (SIGTERM); uvicorn shuts down cleanly, then
        exits by the signal it caught. Returns its stderr."""
        self.process.terminate()
        self.process.wait(timeout=SERVER_STOP_TIMEOUT)
        errors = self.errors()
        assert self.process.returncode in (0, -signal.SIGTERM), errors
        return errors

    def kill(self) -> None:
        """SIGKILL to the process and any it started: no shutdown, no flush, they are simply
        gone."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=SERVER_STOP_TIMEOUT)
