"""``consent records …`` on real data: show, wording, export (streamed, in bounded memory),
purge, stats and its HTML report, and the clear errors for bad input."""

from __future__ import annotations

import csv
import io
import json
import tracemalloc
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import html5lib
import pytest

from consent.records import DecisionRecord, RecordStore
from consent.records.cli import main
from consent.records.database import create_engine, ensure_schema, insert_records, record_row
from consent.records.database import records_table as records
from tests.records.helpers import (
    WORDING_EN,
    WORDING_FR,
    admin,
    drop_database,
    execute,
    make_record,
    run,
    stored_ids,
)

SVG = "{http://www.w3.org/2000/svg}"


def cli(url: str, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), url, out=out, err=err)
    return status, out.getvalue(), err.getvalue()


def store(url: str, tmp_path: Path, decisions: list[DecisionRecord]) -> None:
    async def scenario() -> None:
        async with RecordStore(url, spool_path=tmp_path / "spool") as kept:
            for decision in decisions:
                await kept.record(decision)

    run(scenario())


def day(text: str, hour: int = 12) -> datetime:
    return datetime.fromisoformat(text).replace(hour=hour, tzinfo=UTC)


# --- show and wording -------------------------------------------------------------------------


def test_show_prints_a_visitors_history_with_the_wording_in_their_language(
    database_url: str, tmp_path: Path
) -> None:
    history = [
        make_record(1, consent_id="visitor-x", accept=True, recorded_at=day("2024-05-01", 9)),
        make_record(2, consent_id="visitor-x", accept=False, recorded_at=day("2024-05-03", 9)),
        make_record(3, consent_id="visitor-x", wording=WORDING_FR, recorded_at=day("2024-06-01")),
    ]
    store(database_url, tmp_path, [make_record(4, consent_id="someone-else"), *history[::-1]])
    status, out, err = cli(database_url, "show", "visitor-x")
    assert (status, err) == (0, "")
    moments = [line.split("  ")[0] for line in out.splitlines() if line.startswith("2024-")]
    assert moments == [
        "2024-05-01 09:00:00.000000 UTC",
        "2024-05-03 09:00:00.000000 UTC",
        "2024-06-01 12:00:00.000000 UTC",
    ]
    assert "3 records" in out
    assert "granted:  analytics, necessary" in out
    assert "refused:  analytics, marketing" in out
    assert "address:  198.51.100.0/24" in out
    assert "someone-else" not in out
    # Both wordings, each once, with the texts the visitor read.
    assert out.count(f"Wording {WORDING_EN.fingerprint}") == 1
    assert f"Wording {WORDING_FR.fingerprint} (language fr)" in out
    assert "banner.title: Nous utilisons des cookies" in out
    assert "analytics: Analytics" in out
    assert "How the site is used." in out

    status, out, _ = cli(database_url, "show", "visitor-x", "--format", "json")
    assert status == 0
    shown = [DecisionRecord.from_json(document) for document in json.loads(out)]
    assert shown == sorted(history, key=lambda record: record.recorded_at)


def test_show_and_wording_of_something_unknown_say_so_and_exit_1(
    database_url: str, tmp_path: Path
) -> None:
    store(database_url, tmp_path, [make_record(1)])
    assert cli(database_url, "show", "nobody") == (
        1,
        "",
        "consent records: no record has the consent id 'nobody'\n",
    )
    status, _, err = cli(database_url, "show", "x" * 10_000)
    assert status == 1
    assert len(err) < 200
    assert cli(database_url, "wording", "ab12")[0] == 1
    # An id that starts with "-" (one in 64 before new ids stopped starting so) after "--".
    assert cli(database_url, "show", "--", "-rYDgXLsR2hh0K0A")[2] == (
        "consent records: no record has the consent id '-rYDgXLsR2hh0K0A'\n"
    )
    status, out, _ = cli(database_url, "wording", WORDING_EN.fingerprint)
    assert status == 0
    assert "banner.accept: Accept all" in out


# --- export -----------------------------------------------------------------------------------


def test_export_writes_the_period_asked_for_in_csv_and_jsonl(
    database_url: str, tmp_path: Path
) -> None:
    decisions = [
        make_record(n, recorded_at=day("2024-05-01", 0) + timedelta(hours=6 * n)) for n in range(12)
    ]
    store(database_url, tmp_path, decisions)
    # May 2 and 3 (the --until day included): hours 24..71.
    expected = [
        d for d in decisions if day("2024-05-02", 0) <= d.recorded_at < day("2024-05-04", 0)
    ]
    status, out, err = cli(
        database_url, "export", "--since", "2024-05-02", "--until", "2024-05-03", "--format", "csv"
    )
    assert (status, err) == (0, "")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [row["record_id"] for row in rows] == [str(d.record_id) for d in expected]
    assert rows[0]["granted"] == " ".join(expected[0].granted)
    assert rows[0]["client_address"] == "198.51.100.0/24"
    assert rows[0]["wording_fingerprint"] == WORDING_EN.fingerprint

    target = tmp_path / "export.jsonl"
    status, out, _ = cli(
        database_url, "export", "--since", "2024-05-02T00:00:00+00:00", "--format", "jsonl",
        "--output", str(target),
    )  # fmt: skip
    assert (status, out) == (0, "")
    lines = [json.loads(line) for line in target.read_text().splitlines()]
    assert [line["record_id"] for line in lines] == [str(d.record_id) for d in decisions[4:]]
    assert lines[0] == decisions[4].as_json(wording=False)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["export", "--since", "2024-13-01"], "--since: '2024-13-01' is not a date"),
        (["export", "--until", "yesterday"], "--until: 'yesterday' is not a date"),
        (["stats", "--since", "2024-05-02", "--until", "2024-05-01"], "must come before"),
        (["purge", "--older-than", "0"], "--older-than: '0' is not a whole number of days"),
        (["purge", "--older-than", "ten"], "--older-than: 'ten' is not a whole number"),
        (["purge", "--older-than", "99999999999"], "from 1 to 36500"),
        (["export", "--until", "9999-12-31"], "--until: '9999-12-31' is not a date"),
        (["export", "--format", "xml"], "argument --format: invalid choice: 'xml'"),
        (["purge"], "the following arguments are required: --older-than"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
    ],
)
def test_bad_dates_and_days_are_clear_errors_with_exit_2(
    sqlite_url: str, tmp_path: Path, argv: list[str], message: str
) -> None:
    store(sqlite_url, tmp_path, [make_record(1)])
    status, out, err = cli(sqlite_url, *argv)
    assert (status, out) == (2, "")
    assert err.startswith("consent records: ")
    assert message in err


@pytest.fixture(params=[("sqlite", "csv"), ("postgres", "jsonl")], ids=["sqlite", "postgres"])
def hundred_thousand(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    """A database holding 100,000 records, and the export format to try on it (the other
    format is tried on each database by the smaller export test)."""
    backend, form = request.param
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('big')}/records.sqlite3"
    else:
        server = request.getfixturevalue("postgres_server")
        name = f"consent_test_big_{uuid.uuid4().hex[:8]}"
        run(admin(server, f'CREATE DATABASE "{name}"'))
        url = server.set(database=name).render_as_string(hide_password=False)
    run(_fill(url, 100_000))
    yield url, form
    if backend == "postgres":
        run(drop_database(server, name))


async def _fill(url: str, count: int) -> None:
    engine = create_engine(url)
    await ensure_schema(engine)
    template = make_record(0)
    async with engine.begin() as connection:
        await insert_records(connection, [template])
    row = record_row(template)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    for first in range(0, count, 10_000):
        rows = [
            row
            | {
                "record_id": uuid.uuid4(),
                "consent_id": f"visitor-{n:07d}",
                "recorded_at": start + timedelta(seconds=n),
            }
            for n in range(max(first, 1), min(first + 10_000, count))
        ]
        async with engine.begin() as connection:
            await connection.execute(records.insert(), rows)
    await engine.dispose()


def test_an_export_of_100k_records_streams_in_bounded_memory(
    hundred_thousand: tuple[str, str], tmp_path: Path
) -> None:
    url, form = hundred_thousand
    target = tmp_path / f"export.{form}"
    tracemalloc.start()
    try:
        status, out, err = cli(url, "export", "--format", form, "--output", str(target))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (status, out, err) == (0, "", "")
    size = target.stat().st_size
    with target.open() as exported:
        lines = sum(1 for _ in exported)
    assert lines == 100_000 + (1 if form == "csv" else 0)
    # The file is tens of megabytes; the export held a small, fixed part of it at a time.
    assert size > 30_000_000
    assert peak < 8_000_000, f"peak {peak / 1e6:.1f} MB for a {size / 1e6:.0f} MB export"


# --- purge --------------------------------------------------------------------------------------


def test_purge_deletes_only_the_records_older_than_the_days_given(
    database_url: str, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    old = [make_record(n, recorded_at=now - timedelta(days=40 + n)) for n in range(5)]
    recent = [make_record(n, recorded_at=now - timedelta(days=29, hours=n)) for n in range(3)]
    store(database_url, tmp_path, old + recent)
    status, out, err = cli(database_url, "purge", "--older-than", "30")
    assert (status, err) == (0, "")
    assert out.startswith("purged 5 records made before ")
    assert run(stored_ids(database_url)) == {record.record_id: 1 for record in recent}
    assert cli(database_url, "purge", "--older-than", "30")[1].startswith("purged 0 records")


# --- stats --------------------------------------------------------------------------------------


def test_stats_count_each_visitor_once_a_day_by_their_last_decision(
    database_url: str, tmp_path: Path
) -> None:
    decisions = [
        # May 1: a accepts then refuses (one refusal), b accepts, c refuses.
        make_record(1, consent_id="a", accept=True, recorded_at=day("2024-05-01", 8)),
        make_record(2, consent_id="a", accept=False, recorded_at=day("2024-05-01", 18)),
        make_record(3, consent_id="b", accept=True, recorded_at=day("2024-05-01", 9)),
        make_record(4, consent_id="c", accept=False, recorded_at=day("2024-05-01", 10)),
        # May 2: a changes their mind again.
        make_record(5, consent_id="a", accept=True, recorded_at=day("2024-05-02", 7)),
        # Before the period: not counted.
        make_record(6, consent_id="d", accept=True, recorded_at=day("2024-04-30", 23)),
    ]
    store(database_url, tmp_path, decisions)
    html_path = tmp_path / "report.html"
    status, out, err = cli(database_url, "stats", "--since", "2024-05-01", "--html", str(html_path))
    assert (status, err) == (0, "")
    table = [line.split() for line in out.splitlines()[2:] if line.startswith("2024-")]
    assert table == [
        ["2024-05-01", "analytics", "1", "2", "33%"],
        ["2024-05-01", "marketing", "0", "3", "0%"],
        ["2024-05-01", "necessary", "3", "0", "100%"],
        ["2024-05-02", "analytics", "1", "0", "100%"],
        ["2024-05-02", "marketing", "0", "1", "0%"],
        ["2024-05-02", "necessary", "1", "0", "100%"],
    ]
    page = html_path.read_text()
    document = html5lib.parse(page, namespaceHTMLElements=False)
    svg = document.find(f".//{SVG}svg")
    assert svg is not None
    assert len(svg.findall(f"{SVG}polyline")) == 3
    assert [cell.text for cell in document.findall(".//tbody/tr")[0]] == [
        "2024-05-01",
        "analytics",
        "1",
        "2",
        "33%",
    ]
    # Self-contained: nothing fetched from elsewhere, no script.
    assert document.find(".//script") is None
    for element in document.iter():
        assert not {"src", "href"} & set(element.attrib), element.tag
    assert "url(" not in page


def test_stats_of_an_empty_period_say_so(sqlite_url: str, tmp_path: Path) -> None:
    store(sqlite_url, tmp_path, [make_record(1, recorded_at=day("2024-05-01"))])
    status, _, err = cli(sqlite_url, "stats", "--since", "2024-06-01")
    assert status == 1
    assert "no decision since 2024-06-01" in err


# --- the database itself ------------------------------------------------------------------------


def test_a_store_that_is_off_unreachable_empty_or_too_new_is_a_clear_error(
    postgres_url: str, tmp_path: Path
) -> None:
    assert cli("none", "show", "x") == (
        2,
        "",
        "consent records: the record store is off (records_url = none)\n",
    )
    dead = "postgresql://consent:secret-password@127.0.0.1:9/consent"
    status, _, err = cli(dead, "show", "x")
    assert status == 3
    assert "cannot read the records at postgresql://consent:***@127.0.0.1:9/consent" in err
    assert "secret-password" not in err
    status, _, err = cli(postgres_url, "stats")
    assert status == 3
    assert "holds no consent records yet" in err
    store(postgres_url, tmp_path, [make_record(1)])
    run(execute(postgres_url, "UPDATE consent_schema SET version = 2"))
    status, _, err = cli(postgres_url, "export")
    assert status == 3
    assert "schema version 2; this release knows version 1 only" in err
