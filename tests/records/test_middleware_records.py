"""The middleware keeps a record of every decision: committed before the answer, spooled when
the database does not answer, replayed once it does; and nothing at all with the store off."""

from __future__ import annotations

import io
import json
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from consent.records import RecordsConfigurationError, RecordStore
from consent.records.cli import main as records_main
from consent.settings import ConfigurationError, ConsentSettings
from tests.records.helpers import CHROME, make_record, run, stored_ids
from tests.support import client, make_settings, page_app


def _show(url: str, consent_id: str) -> list[dict[str, Any]]:
    out = io.StringIO()
    assert records_main(["show", consent_id, "--format", "json"], url, out=out) == 0
    return list(json.loads(out.getvalue()))


def _decide(settings: ConsentSettings, form: dict[str, Any], **headers: str) -> Any:
    with client(page_app(settings)) as browser:  # `with`: the lifespan starts and stops it
        return browser.post(
            "/_consent",
            data=form,
            headers={"user-agent": CHROME, "accept-language": "fr", **headers},
            follow_redirects=False,
        )


def _consent_id(response: Any) -> str:
    with client(page_app(make_settings())) as browser:
        browser.cookies.set("consent", response.cookies["consent"])
        return str(browser.get("/_consent").json()["consent_id"])


def test_a_decision_is_committed_with_every_field(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/records.sqlite3"
    settings = make_settings(records_url=url)
    form = {"action": "save", "category": "analytics", "next": "/shop?page=2"}
    response = _decide(settings, form)
    assert response.status_code == 303
    consent_id = _consent_id(response)

    (record,) = _show(url, consent_id)
    assert record["consent_id"] == consent_id
    assert record["action"] == "save"
    assert record["granted"] == ["analytics", "necessary"]
    assert record["refused"] == ["marketing"]
    assert record["revision"] == settings.revision
    assert record["source"] == "banner"
    assert record["language"] == "fr"
    assert record["path"] == "/shop?page=2"
    assert record["user_agent"] == CHROME
    assert record["client_address"] == "testclient" or record["client_address"] is None
    wording = record["wording"]
    assert wording["language"] == "fr"
    assert wording["texts"]["banner.accept_all"] == "Tout accepter"
    assert not any(key.startswith("notice.") for key in wording["texts"])
    assert [c["name"] for c in wording["categories"]] == ["necessary", "analytics", "marketing"]
    assert record["wording_fingerprint"]


def test_the_settings_page_and_a_withdrawal_are_named(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/records.sqlite3"
    settings = make_settings(records_url=url, records_ip="full")
    with client(page_app(settings)) as browser:
        first = browser.post("/_consent", data={"action": "accept_all"}, follow_redirects=False)
        second = browser.post(
            "/_consent",
            data={"action": "reject_all"},
            headers={"referer": "http://localhost/_consent/settings?next=/"},
            follow_redirects=False,
        )
    assert first.status_code == second.status_code == 303
    records = _show(url, _consent_id(second))
    assert [(r["action"], r["source"]) for r in records] == [
        ("accept_all", "banner"),
        ("withdraw", "settings page"),
    ]
    assert records[1]["path"] == "/_consent/settings"


def test_records_off_with_none_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = make_settings(records_url="none")
    app = page_app(settings)
    assert app.endpoints.recorder.store is None
    with client(app) as browser:
        response = browser.post("/_consent", data={"action": "accept_all"}, follow_redirects=False)
    assert response.status_code == 303
    assert "consent" in response.cookies
    assert list(tmp_path.iterdir()) == []


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_an_unreachable_database_spools_and_the_spool_is_replayed_once(tmp_path: Path) -> None:
    spool = tmp_path / "decisions.spool.jsonl"
    down = f"postgresql+asyncpg://consent:secret@127.0.0.1:{_closed_port()}/consent"
    settings = make_settings(records_url=down, records_spool=spool, records_commit_wait=0.5)
    response = _decide(settings, {"action": "reject_all"})
    assert response.status_code == 303
    assert "consent" in response.cookies
    spooled = [json.loads(line) for line in spool.read_text().splitlines()]
    consent_id = _consent_id(response)
    assert [(r["consent_id"], r["action"]) for r in spooled] == [(consent_id, "reject_all")]

    # The database answers again (here: another one, the spool is the same): replayed at start.
    url = f"sqlite+aiosqlite:///{tmp_path}/records.sqlite3"
    up = make_settings(records_url=url, records_spool=spool)
    for _ in range(2):  # a second start finds nothing more to replay
        with client(page_app(up)):
            pass
    (record,) = _show(url, consent_id)
    assert record["record_id"] == spooled[0]["record_id"]
    assert spool.read_text() == ""


def test_a_wrong_records_url_is_an_error_naming_it(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/no/such/folder/records.sqlite3"
    settings = make_settings(records_url=url, records_spool=tmp_path / "s.jsonl")
    with pytest.raises(RecordsConfigurationError, match=r"records_url: .* does not exist"):
        page_app(settings)
    with pytest.raises(ConfigurationError, match="records_url: mysql://"):
        make_settings(records_url="mysql://user@host/db")


def test_records_past_their_retention_are_purged(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/records.sqlite3"
    old = make_record(1, recorded_at=datetime.now(UTC) - timedelta(days=31))
    recent = make_record(2, recorded_at=datetime.now(UTC) - timedelta(days=29))

    async def fill() -> None:
        async with RecordStore(url, spool_path=tmp_path / "fill.jsonl") as store:
            for record in (old, recent):
                await store.record(record)

    run(fill())
    settings = make_settings(records_url=url, records_retention_days=30)
    app = page_app(settings)
    with client(app) as browser:  # the lifespan starts the daily purge, and this one is sure
        browser.portal.call(app.endpoints.recorder.purge_expired)  # type: ignore[union-attr]
    assert set(run(stored_ids(url))) == {recent.record_id}
