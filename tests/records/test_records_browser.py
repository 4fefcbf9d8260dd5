"""A choice made in Chromium through the German banner is in SQLite, and ``consent records
show`` prints it with the German banner's wording (the issue's first acceptance test)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.support import LiveServer, make_settings, page_app

REPO = Path(__file__).resolve().parents[2]
GERMAN = json.loads((REPO / "src/consent/page/ui/locales/de.json").read_text(encoding="utf-8"))


def _consent(folder: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    """The ``consent`` command, run in ``folder`` with no ``CONSENT_*`` variable of ours."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("CONSENT_")}
    return subprocess.run(
        [sys.executable, "-m", "consent.cli", *arguments],
        capture_output=True,
        text=True,
        env=env,
        cwd=folder,
        timeout=60,
        check=False,
    )


@pytest.mark.browser
def test_a_german_banner_choice_is_recorded_and_shown_with_its_wording(
    browser: Browser, tmp_path: Path
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/records.sqlite3"
    settings_file = tmp_path / "consent.toml"
    settings_file.write_text(
        f'secret_keys = ["test-key-newest"]\nrecords_url = "{url}"\n', encoding="utf-8"
    )
    app = page_app(make_settings(records_url=url))
    with LiveServer(app) as server:
        context = browser.new_context(base_url=server.url, locale="de-DE")
        try:
            page = context.new_page()
            page.set_extra_http_headers({"accept-language": "de"})
            page.goto("/")
            banner = page.locator("#consent-banner")
            banner.get_by_role("button", name=GERMAN["banner.reject_all"]).click()
            expect(banner).to_be_hidden()
            consent_id = page.request.get("/_consent").json()["consent_id"]
            user_agent = page.evaluate("navigator.userAgent")
        finally:
            context.close()

    shown = _consent(tmp_path, "records", "show", consent_id, "--settings", str(settings_file))
    assert shown.returncode == 0, shown.stderr
    assert consent_id in shown.stdout
    assert "reject_all" in shown.stdout
    assert GERMAN["banner.title"] in shown.stdout
    assert GERMAN["banner.reject_all"] in shown.stdout

    as_json = _consent(
        tmp_path,
        "records",
        "--settings",
        str(settings_file),
        "show",
        consent_id,
        "--format",
        "json",
    )
    assert as_json.returncode == 0, as_json.stderr
    (record,) = json.loads(as_json.stdout)
    assert record["language"] == "de"
    assert record["source"] == "banner"
    assert record["path"] == "/"
    assert record["user_agent"] == user_agent
    assert record["client_address"] == "127.0.0.0/24"
    assert record["wording"]["texts"]["banner.text"] == GERMAN["banner.text"]
