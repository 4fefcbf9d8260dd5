"""The consent-record tables, the engine that reaches them, and the statements that write them.

One code path for SQLite (aiosqlite, the embedded default) and PostgreSQL (asyncpg), through
SQLAlchemy's async Core. Three tables: ``consent_records`` (one row per decision, keyed by the
record id), ``consent_wordings`` (each wording once, keyed by its fingerprint) and
``consent_schema`` (the schema version). Inserts are idempotent: ``INSERT … ON CONFLICT DO
NOTHING`` in both dialects, so a record written twice is kept once.

SQLite runs in WAL mode with ``synchronous=FULL``: a commit returns only once the WAL is on disk,
so an acknowledged decision survives a power cut as well as a crash (``NORMAL`` would only
survive a crash of the process). Group commit pays that one fsync per batch, not per decision.
"""

from __future__ import annotations

import json
import socket
import sqlite3
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from consent.records.model import (
    MAX_ADDRESS_LENGTH,
    MAX_CONSENT_ID_LENGTH,
    MAX_LANGUAGE_LENGTH,
    MAX_PATH_LENGTH,
    MAX_USER_AGENT_LENGTH,
    DecisionRecord,
    Wording,
)

#: The store's default database: a SQLite file in the working directory.
DEFAULT_RECORDS_URL = "sqlite+aiosqlite:///consent-records.sqlite3"
#: The ``records_url`` that turns the store off.
DISABLED_URL = "none"
#: The version of the tables below; a database that carries another one is not touched.
SCHEMA_VERSION = 1
#: Seconds to wait for a PostgreSQL connection, and for one statement.
CONNECT_TIMEOUT = 5.0
COMMAND_TIMEOUT = 30.0
#: Seconds a SQLite writer waits for another one's lock before giving up.
SQLITE_BUSY_TIMEOUT = 5.0
#: Tries at switching a new SQLite file to WAL while other connections do the same, and the
#: pause before the first retry in seconds (growing by as much each time: 0.9 s in all).
WAL_SWITCH_ATTEMPTS = 10
WAL_SWITCH_PAUSE = 0.02
#: The PostgreSQL advisory lock that serialises schema creation between instances.
SCHEMA_LOCK_KEY = 0x636F6E73
#: The connection option that makes a SQLite transaction take the write lock when it begins.
SQLITE_IMMEDIATE = "sqlite_immediate"
#: SQLSTATE classes of errors that pass: connection trouble, a server shutting down or starting
#: up, too many connections.
TEMPORARY_SQLSTATE_CLASSES = frozenset({"08", "57", "53"})

_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}
_BACKEND_ALIASES = {"postgres": "postgresql"}


class RecordsConfigurationError(ValueError):
    """``records_url`` cannot be used; the message names the setting and the (masked) URL."""


class SchemaVersionError(RecordsConfigurationError):
    """The database holds consent records of a schema version this release does not know."""


class UTCDateTime(sa.TypeDecorator[datetime]):
    """An aware UTC time with microseconds, on both dialects (SQLite keeps it as naive UTC text,
    which sorts as time does)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("a consent-record time must carry its time zone")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = sa.MetaData()
schema_table = sa.Table(
    "consent_schema", metadata, sa.Column("version", sa.Integer, nullable=False)
)
wordings_table = sa.Table(
    "consent_wordings",
    metadata,
    sa.Column("fingerprint", sa.String(64), primary_key=True),
    sa.Column("language", sa.String(MAX_LANGUAGE_LENGTH), nullable=False),
    sa.Column("wording", sa.Text, nullable=False),
)
records_table = sa.Table(
    "consent_records",
    metadata,
    sa.Column("record_id", sa.Uuid, primary_key=True),
    sa.Column("consent_id", sa.String(MAX_CONSENT_ID_LENGTH), nullable=False),
    sa.Column("recorded_at", UTCDateTime, nullable=False),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("granted", sa.Text, nullable=False),
    sa.Column("refused", sa.Text, nullable=False),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("language", sa.String(MAX_LANGUAGE_LENGTH), nullable=False),
    sa.Column(
        "wording_fingerprint",
        sa.String(64),
        sa.ForeignKey(wordings_table.c.fingerprint),
        nullable=False,
    ),
    sa.Column("path", sa.String(MAX_PATH_LENGTH), nullable=False),
    sa.Column("user_agent", sa.String(MAX_USER_AGENT_LENGTH), nullable=False),
    sa.Column("client_address", sa.String(MAX_ADDRESS_LENGTH), nullable=True),
    sa.Index("ix_consent_records_visitor", "consent_id", "recorded_at"),
    sa.Index("ix_consent_records_time", "recorded_at"),
)


def records_url(url: str) -> sa.URL:
    """``url`` with the async driver of its database (``sqlite://`` and ``postgresql://`` are
    accepted as they are written for other tools)."""
    try:
        parsed = sa.make_url(url)
    except ArgumentError:
        raise RecordsConfigurationError(
            f"records_url: {url!r} is not a database URL (for example {DEFAULT_RECORDS_URL} or "
            "postgresql://user:password@host/database, or 'none')"
        ) from None
    backend = _BACKEND_ALIASES.get(parsed.get_backend_name(), parsed.get_backend_name())
    driver = _DRIVERS.get(backend)
    if driver is None:
        raise RecordsConfigurationError(
            f"records_url: {safe_url(parsed)} is neither SQLite nor PostgreSQL"
        )
    if "+" in parsed.drivername and parsed.drivername != driver:
        raise RecordsConfigurationError(
            f"records_url: {safe_url(parsed)} names the driver {parsed.get_driver_name()!r}; "
            f"the store uses {driver}"
        )
    return parsed.set(drivername=driver)


def safe_url(url: sa.URL) -> str:
    """A URL fit for a message: the password masked."""
    return url.render_as_string(hide_password=True)


def create_engine(url: str) -> AsyncEngine:
    """An engine for ``url`` (see :func:`records_url`), SQLite set to WAL and full sync. Its
    errors do not quote the statement's parameters: the store logs them, and a record's
    consent id, User-Agent and address do not belong in a server's log."""
    parsed = records_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in {None, "", ":memory:"}:
        folder = Path(parsed.database or "").parent
        if not folder.is_dir():
            raise RecordsConfigurationError(
                f"records_url: {safe_url(parsed)}: the folder {folder} does not exist"
            )
    try:
        if parsed.get_backend_name() == "sqlite":
            engine = create_async_engine(
                parsed,
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT},
                pool_pre_ping=True,
                hide_parameters=True,
            )
            sa.event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
            sa.event.listen(engine.sync_engine, "begin", _sqlite_begin)
            return engine
        return create_async_engine(
            parsed,
            connect_args={"timeout": CONNECT_TIMEOUT, "command_timeout": COMMAND_TIMEOUT},
            pool_pre_ping=True,
            hide_parameters=True,
        )
    except (ArgumentError, NoSuchModuleError, ImportError) as error:
        raise RecordsConfigurationError(f"records_url: {safe_url(parsed)}: {error}") from None


def _sqlite_pragmas(connection: Any, record: Any) -> None:
    # The driver's own transaction handling is turned off (it would not put DDL in a
    # transaction); _sqlite_begin starts each transaction instead.
    connection.isolation_level = None
    cursor = connection.cursor()
    _switch_to_wal(cursor)
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _switch_to_wal(cursor: Any) -> None:
    """``PRAGMA journal_mode=WAL``, tried again after a short pause while the file is locked.

    Switching a new file to WAL needs its exclusive lock, and SQLite answers "database is
    locked" at once, without the busy timeout, to all but one of several connections that ask
    together (processes or stores starting at the same time on a new file)."""
    for attempt in range(1, WAL_SWITCH_ATTEMPTS + 1):
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or attempt == WAL_SWITCH_ATTEMPTS:
                raise
            time.sleep(WAL_SWITCH_PAUSE * attempt)


def _sqlite_begin(connection: sa.Connection) -> None:
    """``BEGIN``, or ``BEGIN IMMEDIATE`` (the write lock at once, waiting for it as long as the
    busy timeout allows) on a connection given the ``sqlite_immediate`` option."""
    immediate = connection.get_execution_options().get(SQLITE_IMMEDIATE, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _causes(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def is_temporary(error: BaseException) -> bool:
    """Whether ``error`` says the database is down or busy for now (refused or timed-out
    connections, a server shutting down or starting up, a locked SQLite file), rather than
    that the setting is wrong (a host name that does not exist, a bad password, no database)."""
    for cause in _causes(error):
        if isinstance(cause, socket.gaierror):
            return cause.errno == socket.EAI_AGAIN
        if isinstance(cause, OSError | TimeoutError):
            return True
        sqlstate = getattr(cause, "sqlstate", None)
        if isinstance(sqlstate, str) and sqlstate[:2] in TEMPORARY_SQLSTATE_CLASSES:
            return True
        if isinstance(cause, sqlite3.OperationalError) and "locked" in str(cause):
            return True
    return False


def _read_version(connection: sa.Connection) -> int | None:
    if not sa.inspect(connection).has_table(schema_table.name):
        return None
    versions = set(connection.scalars(sa.select(schema_table.c.version)))
    if len(versions) > 1:
        raise SchemaVersionError(
            f"consent_schema holds several versions ({sorted(versions)}); "
            f"this release knows version {SCHEMA_VERSION}"
        )
    return versions.pop() if versions else None


async def ensure_schema(engine: AsyncEngine) -> None:
    """Creates the tables on first start; raises :class:`SchemaVersionError` for a database
    written by an unknown schema version (nothing is changed in it then).

    The version is read and the tables created in one transaction that holds a lock (an
    advisory lock on PostgreSQL, the write lock on SQLite), so instances starting together
    take turns: the first creates everything, the others find it done."""
    async with engine.connect() as plain:
        connection = await plain.execution_options(**{SQLITE_IMMEDIATE: True})
        async with connection.begin():
            if engine.dialect.name == "postgresql":
                await connection.execute(sa.select(sa.func.pg_advisory_xact_lock(SCHEMA_LOCK_KEY)))
            version = await connection.run_sync(_read_version)
            if version is None:
                await connection.run_sync(metadata.create_all)
                await connection.execute(schema_table.insert().values(version=SCHEMA_VERSION))
            elif version != SCHEMA_VERSION:
                raise SchemaVersionError(
                    f"records_url: the database {safe_url(engine.url)} holds consent records "
                    f"of schema version {version}; this release knows version "
                    f"{SCHEMA_VERSION} only (upgrade asgi-consent, or use another database)"
                )


async def check_schema(connection: AsyncConnection) -> None:
    """For readers: the tables exist and carry the version this release knows."""
    version = await connection.run_sync(_read_version)
    url = safe_url(connection.engine.url)
    if version is None:
        raise RecordsConfigurationError(
            f"records_url: {url} holds no consent records yet (the store creates its tables "
            "when the middleware first starts)"
        )
    if version != SCHEMA_VERSION:
        raise SchemaVersionError(
            f"records_url: the database {url} holds consent records of schema version "
            f"{version}; this release knows version {SCHEMA_VERSION} only"
        )


def _insert(connection: AsyncConnection, table: sa.Table) -> Any:
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    return dialect.insert(table).on_conflict_do_nothing()


async def insert_records(
    connection: AsyncConnection,
    records: Sequence[DecisionRecord],
    known_wordings: set[str] | frozenset[str] = frozenset(),
) -> None:
    """Writes ``records`` and their wordings; records and wordings already stored are left as
    they are. Rows go in a fixed order (fingerprint, record id), so two instances writing
    overlapping batches at once cannot deadlock."""
    wordings = {record.wording.fingerprint: record.wording for record in records}
    new_wordings = [wordings[key] for key in sorted(wordings) if key not in known_wordings]
    if new_wordings:
        await connection.execute(
            _insert(connection, wordings_table), [wording_row(w) for w in new_wordings]
        )
    unique = {record.record_id: record for record in records}
    rows = [record_row(unique[key]) for key in sorted(unique)]
    if rows:
        await connection.execute(_insert(connection, records_table), rows)


def wording_row(wording: Wording) -> dict[str, Any]:
    return {
        "fingerprint": wording.fingerprint,
        "language": wording.language,
        "wording": wording.canonical,
    }


def record_row(record: DecisionRecord) -> dict[str, Any]:
    return {
        "record_id": record.record_id,
        "consent_id": record.consent_id,
        "recorded_at": record.recorded_at,
        "action": record.action,
        "granted": json.dumps(record.granted),
        "refused": json.dumps(record.refused),
        "revision": record.revision,
        "source": record.source,
        "language": record.language,
        "wording_fingerprint": record.wording.fingerprint,
        "path": record.path,
        "user_agent": record.user_agent,
        "client_address": record.client_address,
    }


def record_of(row: sa.Row[Any], wording: Wording) -> DecisionRecord:
    """The record a ``consent_records`` row holds, with its wording."""
    return DecisionRecord(
        record_id=row.record_id,
        consent_id=row.consent_id,
        recorded_at=row.recorded_at,
        action=row.action,
        granted=tuple(json.loads(row.granted)),
        refused=tuple(json.loads(row.refused)),
        revision=row.revision,
        source=row.source,
        wording=wording,
        path=row.path,
        user_agent=row.user_agent,
        client_address=row.client_address,
    )
