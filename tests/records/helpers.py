"""Records, wordings and database look-ups shared by the consent-record tests."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

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
