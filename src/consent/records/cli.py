"""``consent records …``: the consent records read back, for a visitor, a regulator or the site.

    show CONSENT_ID                 one visitor's whole history, with the wording they were shown
    wording FINGERPRINT             one stored wording (exports name wordings by fingerprint)
    export [--since] [--until]      every record in a period, as CSV or JSON lines, streamed
    purge --older-than DAYS         deletes the records older than that (retention)
    stats [--since] [--until]       opt-in per day and category; --html FILE writes a report

Dates are ``YYYY-MM-DD`` (UTC days; ``--until`` includes its day) or ISO 8601 times. Exit status:
0 done, 1 nothing found, 2 bad arguments, 3 the database cannot be read.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractContextManager, asynccontextmanager, nullcontext
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, NoReturn, TextIO

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from consent.records.database import (
    DISABLED_URL,
    RecordsConfigurationError,
    check_schema,
    create_engine,
    record_of,
    records_table,
    safe_url,
    wordings_table,
)
from consent.records.model import MAX_CONSENT_ID_LENGTH, DecisionRecord, Wording
from consent.records.report import OptInStats

#: Rows fetched from the database at a time while streaming (a server-side cursor).
STREAM_ROWS = 1000
#: Stored lists of categories kept parsed (a site has a few combinations of its categories).
MAX_CACHED_CATEGORY_LISTS = 256
#: The longest retention ``purge`` accepts (a hundred years).
MAX_RETENTION_DAYS = 36_500
#: The days ``stats`` covers when ``--since`` is not given.
DEFAULT_STATS_DAYS = 30
#: Exit statuses.
EXIT_OK, EXIT_NOT_FOUND, EXIT_USAGE, EXIT_DATABASE = 0, 1, 2, 3

EXPORT_COLUMNS = (
    "record_id",
    "recorded_at",
    "consent_id",
    "action",
    "granted",
    "refused",
    "revision",
    "source",
    "language",
    "wording_fingerprint",
    "path",
    "user_agent",
    "client_address",
)


class UsageError(Exception):
    """Arguments that cannot be used; the message says which and why."""


class NotFoundError(Exception):
    """Nothing matches what was asked for."""


def parse_moment(option: str, value: str | None, *, end_of_day: bool = False) -> datetime | None:
    """A ``--since``/``--until`` value as a UTC time: a day starts at midnight (``--until``
    takes the whole day, so it means the next midnight); a time without a zone is UTC."""
    if value is None:
        return None
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            start = datetime(day.year, day.month, day.day, tzinfo=UTC)
            return start + timedelta(days=1) if end_of_day else start
        moment = datetime.fromisoformat(value)
    except (ValueError, OverflowError):
        raise UsageError(
            f"{option}: {value!r} is not a date (YYYY-MM-DD) or an ISO 8601 time"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class _Parser(argparse.ArgumentParser):
    """Reports bad arguments as :class:`UsageError`, so they reach the caller's error stream."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see {self.prog} --help)")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="consent records",
        description="Read the consent records back.",
        epilog="Dates are YYYY-MM-DD (UTC) or ISO 8601 times; --until includes its day.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    show = commands.add_parser("show", help="a visitor's history, with the wording shown")
    show.add_argument(
        "consent_id", help="the visitor's consent id; one that starts with '-' goes after '--'"
    )
    show.add_argument("--format", choices=("text", "json"), default="text")
    wording = commands.add_parser("wording", help="a stored wording, by its fingerprint")
    wording.add_argument("fingerprint")
    export = commands.add_parser("export", help="the records of a period, streamed")
    export.add_argument("--since", metavar="DATE")
    export.add_argument("--until", metavar="DATE")
    export.add_argument("--format", choices=("csv", "jsonl"), default="csv")
    export.add_argument("--output", metavar="FILE", help="write here (default: standard output)")
    purge = commands.add_parser("purge", help="delete the records older than DAYS days")
    purge.add_argument("--older-than", metavar="DAYS", required=True)
    stats = commands.add_parser("stats", help="opt-in per day and category")
    stats.add_argument("--since", metavar="DATE", help=f"default: {DEFAULT_STATS_DAYS} days ago")
    stats.add_argument("--until", metavar="DATE")
    stats.add_argument("--html", metavar="FILE", help="also write a self-contained HTML report")
    return parser


def main(
    argv: Sequence[str] | None, url: str, *, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Runs one ``consent records`` command against the database at ``url`` (the
    ``records_url`` setting); returns the exit status."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exit_:  # --help
        return EXIT_USAGE if exit_.code else EXIT_OK
    except UsageError as error:
        print(f"consent records: {error}", file=err)
        return EXIT_USAGE
    try:
        if url.strip().lower() == DISABLED_URL:
            raise UsageError("the record store is off (records_url = none)")
        return asyncio.run(_run(args, url, out))
    except UsageError as error:
        print(f"consent records: {error}", file=err)
        return EXIT_USAGE
    except NotFoundError as error:
        print(f"consent records: {error}", file=err)
        return EXIT_NOT_FOUND
    except RecordsConfigurationError as error:
        print(f"consent records: {error}", file=err)
        return EXIT_DATABASE
    except (sa.exc.SQLAlchemyError, OSError) as error:
        print(f"consent records: cannot read the records at {_masked(url)}: {error}", file=err)
        return EXIT_DATABASE


def _masked(url: str) -> str:
    try:
        return safe_url(sa.make_url(url))
    except sa.exc.ArgumentError:
        return repr(url)


async def _run(args: argparse.Namespace, url: str, out: TextIO) -> int:
    days = _positive_days(args.older_than) if args.command == "purge" else 0
    since = parse_moment("--since", getattr(args, "since", None))
    until = parse_moment("--until", getattr(args, "until", None), end_of_day=True)
    if since and until and since >= until:
        raise UsageError(f"--since ({args.since}) must come before --until ({args.until})")
    async with _connected(url) as connection:
        if args.command == "show":
            await show(connection, args.consent_id, args.format, out)
        elif args.command == "wording":
            await show_wording(connection, args.fingerprint, out)
        elif args.command == "export":
            with _output(args.output, out) as target:
                await export(connection, since, until, args.format, target)
        elif args.command == "purge":
            await purge(connection, days, out)
        else:
            since = since or datetime.now(UTC).replace(
                hour=0, minute=0, second=0, microsecond=0
            ) - timedelta(days=DEFAULT_STATS_DAYS)
            await stats(connection, since, until, args.html, out)
    return EXIT_OK


def _positive_days(value: str) -> int:
    try:
        days = int(value)
    except ValueError:
        days = 0
    if not 1 <= days <= MAX_RETENTION_DAYS:
        raise UsageError(
            f"--older-than: {value!r} is not a whole number of days from 1 to {MAX_RETENTION_DAYS}"
        )
    return days


@asynccontextmanager
async def _connected(url: str) -> AsyncIterator[AsyncConnection]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            await check_schema(connection)
            yield connection
    finally:
        await engine.dispose()


def _output(path: str | None, out: TextIO) -> AbstractContextManager[TextIO]:
    if path is None:
        return nullcontext(out)
    return Path(path).open("w", encoding="utf-8", newline="")


def _period(since: datetime | None, until: datetime | None) -> list[sa.ColumnElement[bool]]:
    conditions = []
    if since is not None:
        conditions.append(records_table.c.recorded_at >= since)
    if until is not None:
        conditions.append(records_table.c.recorded_at < until)
    return conditions


async def _wordings(connection: AsyncConnection, fingerprints: set[str]) -> dict[str, Wording]:
    rows = await connection.execute(
        sa.select(wordings_table.c.fingerprint, wordings_table.c.wording).where(
            wordings_table.c.fingerprint.in_(sorted(fingerprints))
        )
    )
    return {row.fingerprint: Wording.from_canonical(row.wording) for row in rows}


# --- show ---------------------------------------------------------------------------------------


async def show(connection: AsyncConnection, consent_id: str, form: str, out: TextIO) -> None:
    """Prints every record of ``consent_id`` in time order, then the wordings they showed."""
    if len(consent_id) > MAX_CONSENT_ID_LENGTH:
        raise NotFoundError(f"no record has the consent id {consent_id[:80]!r}…")
    query = (
        sa.select(records_table)
        .where(records_table.c.consent_id == consent_id)
        .order_by(records_table.c.recorded_at, records_table.c.record_id)
        .execution_options(yield_per=STREAM_ROWS)
    )
    wordings: dict[str, Wording] = {}
    shown = 0
    result = await connection.stream(query)
    async for row in result:
        fingerprint = row.wording_fingerprint
        if fingerprint not in wordings:
            wordings.update(await _wordings(connection, {fingerprint}))
        record = record_of(row, wordings[fingerprint])
        if form == "json":
            document = record.as_json()
            out.write(("[\n" if shown == 0 else ",\n") + json.dumps(document, ensure_ascii=False))
        else:
            if shown == 0:
                out.write(f"Consent id {consent_id}\n")
            out.write(_describe(record))
        shown += 1
    if shown == 0:
        raise NotFoundError(f"no record has the consent id {consent_id!r}")
    if form == "json":
        out.write("\n]\n")
        return
    out.write(f"\n{shown} record{'s' if shown != 1 else ''}. Wording shown:\n")
    for fingerprint, wording in wordings.items():
        out.write(_describe_wording(wording, fingerprint))


def _describe(record: DecisionRecord) -> str:
    moment = record.recorded_at.strftime("%Y-%m-%d %H:%M:%S.%f UTC")
    return (
        f"\n{moment}  {record.action} ({record.source}, revision {record.revision}, "
        f"language {record.language})\n"
        f"  granted:  {', '.join(record.granted) or '-'}\n"
        f"  refused:  {', '.join(record.refused) or '-'}\n"
        f"  page:     {record.path or '-'}\n"
        f"  browser:  {record.user_agent or '-'}\n"
        f"  address:  {record.client_address or '-'}\n"
        f"  record:   {record.record_id}\n"
        f"  wording:  {record.wording.fingerprint[:16]}\n"
    )


def _describe_wording(wording: Wording, fingerprint: str) -> str:
    lines = [f"\nWording {fingerprint} (language {wording.language})"]
    lines.append("  categories offered:")
    for category in wording.categories:
        required = " (required)" if category.required else ""
        lines.append(f"    {category.name}{required}: {category.label}")
        if category.description:
            lines.append(f"      {category.description}")
        for service in category.services:
            lines.append(f"      service {service.name}: {service.label}")
            if service.description:
                lines.append(f"        {service.description}")
    lines.append("  texts:")
    for key, text in wording.texts:
        lines.append(f"    {key}: {text}")
    return "\n".join(lines) + "\n"


async def show_wording(connection: AsyncConnection, fingerprint: str, out: TextIO) -> None:
    found = await _wordings(connection, {fingerprint.lower()})
    if not found:
        raise NotFoundError(f"no wording has the fingerprint {fingerprint[:80]!r}")
    for key, wording in found.items():
        out.write(_describe_wording(wording, key))


# --- export -------------------------------------------------------------------------------------


async def export(
    connection: AsyncConnection,
    since: datetime | None,
    until: datetime | None,
    form: str,
    out: TextIO,
) -> int:
    """Writes the records of the period in time order, one row at a time (a server-side
    cursor), so memory stays bounded however many there are. Returns how many."""
    query = (
        sa.select(*(records_table.c[name] for name in EXPORT_COLUMNS))
        .where(*_period(since, until))
        .order_by(records_table.c.recorded_at, records_table.c.record_id)
        .execution_options(yield_per=STREAM_ROWS)
    )
    writer = csv.writer(out) if form == "csv" else None
    if writer is not None:
        writer.writerow(EXPORT_COLUMNS)
    written = 0
    result = await connection.stream(query)
    async for rows in result.partitions():
        if writer is not None:
            writer.writerows(map(_csv_row, rows))
        else:
            out.writelines(map(_json_line, rows))
        written += len(rows)
    return written


def _export_fields(row: sa.Row[Any]) -> list[Any]:
    """A row's values in :data:`EXPORT_COLUMNS` order, as JSON types."""
    fields = list(row)
    fields[0] = str(fields[0])
    fields[1] = fields[1].isoformat()
    fields[4] = _categories(fields[4])
    fields[5] = _categories(fields[5])
    return fields


@lru_cache(maxsize=MAX_CACHED_CATEGORY_LISTS)
def _categories(stored: str) -> list[str]:
    """A stored list of categories (a site has a few combinations, read again and again)."""
    return list(json.loads(stored))


def _csv_row(row: sa.Row[Any]) -> list[Any]:
    fields = _export_fields(row)
    fields[4] = " ".join(fields[4])
    fields[5] = " ".join(fields[5])
    return fields


def _json_line(row: sa.Row[Any]) -> str:
    document = dict(zip(EXPORT_COLUMNS, _export_fields(row), strict=True))
    return json.dumps(document, ensure_ascii=False) + "\n"


# --- purge and stats ----------------------------------------------------------------------------


async def purge(connection: AsyncConnection, days: int, out: TextIO) -> int:
    """Deletes the records older than ``days`` days; the wordings stay (they are few and name
    no one). Returns how many records were deleted."""
    cutoff = datetime.now(UTC) - timedelta(days=days)
    result = await connection.execute(
        sa.delete(records_table).where(records_table.c.recorded_at < cutoff)
    )
    await connection.commit()
    deleted = max(result.rowcount, 0)
    out.write(f"purged {deleted} records made before {cutoff:%Y-%m-%d %H:%M:%S} UTC\n")
    return deleted


async def stats(
    connection: AsyncConnection,
    since: datetime,
    until: datetime | None,
    html_path: str | None,
    out: TextIO,
) -> OptInStats:
    """Prints the opt-in table of the period (and writes the HTML report when asked)."""
    query = (
        sa.select(
            records_table.c.consent_id,
            records_table.c.recorded_at,
            records_table.c.granted,
            records_table.c.refused,
        )
        .where(*_period(since, until))
        .order_by(records_table.c.consent_id, records_table.c.recorded_at)
        .execution_options(yield_per=STREAM_ROWS)
    )
    figures = OptInStats()
    result = await connection.stream(query)
    async for rows in result.partitions():
        for row in rows:
            figures.add(
                row.consent_id, row.recorded_at, _categories(row.granted), _categories(row.refused)
            )
    figures.finish()
    if not figures.counts:
        raise NotFoundError(f"no decision since {since:%Y-%m-%d %H:%M} UTC")
    out.write(figures.table())
    if html_path is not None:
        title = f"Consent opt-in since {since:%Y-%m-%d}"
        Path(html_path).write_text(figures.html(title), encoding="utf-8")
        out.write(f"report written to {html_path}\n")
    return figures
