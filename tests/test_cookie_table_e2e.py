"""In Chromium, on the example site: the cookie tables in the dialog and on the settings page
(checked by axe-core), and a cookie set by the page's own script reaching the inventory.

The example (``examples/policy.toml``) declares its cookies, and its home page carries a script
that sets an undeclared ``_hjid`` on purpose.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from consent import ConsentSettings
from consent.choice.inventory import READ_ONE_HEADER_IN, read_inventory
from consent.cli import main
from tests.support import LiveServer

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from examples.site import POLICY  # noqa: E402
from examples.starlette_app import create_app  # noqa: E402

AXE = REPO / "tools" / "frontend" / "node_modules" / "axe-core" / "axe.min.js"
TIMEOUT_MS = 10_000
#: axe-core's violations under a selector, each with the markup of the nodes at fault, and the
#: rules that passed.
RUN_AXE = """async (selector) => {
  const result = await axe.run(document.querySelector(selector));
  return {
    violations: result.violations.map(
      v => ({id: v.id, help: v.help, nodes: v.nodes.map(n => n.html)})),
    passed: result.passes.map(p => p.id),
  };
}"""
#: Rules of axe-core that judge a data table: they must have run on ours, and passed.
TABLE_RULES = {"th-has-data-cells", "scope-attr-valid"}


def axe_path() -> Path:
    """axe-core's script, installed by ``npm ci --prefix tools/frontend``; skipped without it,
    failed under ``$CI``."""
    if not AXE.is_file():
        reason = f"axe-core is not installed ({AXE}); run npm ci --prefix tools/frontend"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return AXE


def violations(page: Page, selector: str) -> list[dict[str, Any]]:
    """What axe-core finds wrong under ``selector``, after checking that it judged the tables."""
    page.add_script_tag(path=str(axe_path()))
    result: dict[str, Any] = page.evaluate(RUN_AXE, selector)
    missing = TABLE_RULES - set(result["passed"]) - {v["id"] for v in result["violations"]}
    assert not missing, f"axe-core did not judge the tables: {missing}"
    found: list[dict[str, Any]] = result["violations"]
    return found


@pytest.fixture(scope="module")
def inventory_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("inventory") / "consent-cookie-inventory.json"


@pytest.fixture(scope="module")
def site(inventory_file: Path) -> Iterator[LiveServer]:
    """The example site, its inventory in a temporary folder."""
    settings = ConsentSettings.from_toml(
        POLICY, cookie_inventory=str(inventory_file), records_url="none"
    )
    app = create_app(settings)
    server = LiveServer(app).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def context(browser: Browser, site: LiveServer) -> Iterator[BrowserContext]:
    context = browser.new_context(base_url=site.url, locale="de-DE")
    context.set_default_timeout(TIMEOUT_MS)
    yield context
    context.close()


def check_table(page: Page, scope: str) -> None:
    """The analytics table, in German, with its caption, column headers and rows."""
    table = page.locator(f"{scope} table.consent-cookies").nth(1)
    expect(table.locator("caption")).to_have_text("Cookies der Kategorie Statistik")
    headers = table.locator("thead th[scope=col]")
    expect(headers).to_have_text(["Cookie", "Anbieter", "Zweck", "Speicherdauer"])
    expect(table.locator("tbody tr")).to_have_count(2)
    expect(table.locator("tbody tr").first.locator("th, td")).to_have_text(
        ["_ga", "Google Analytics", "Unterscheidet Besuche, um sie zu zählen.", "2 Jahre"]
    )
    box = table.bounding_box()
    assert box is not None and box["width"] > 0 and box["height"] > 0, "the table is not drawn"


@pytest.mark.browser
def test_the_dialog_shows_each_categorys_cookies_in_an_accessible_table(
    context: BrowserContext,
) -> None:
    page = context.new_page()
    page.goto("/")
    page.get_by_role("button", name="Einstellungen anpassen").click()
    dialog = page.locator("#consent-preferences")
    expect(dialog).to_be_visible()
    expect(dialog.locator("table.consent-cookies")).to_have_count(3)
    check_table(page, "#consent-preferences")
    assert violations(page, "#consent-preferences") == []


@pytest.mark.browser
def test_the_settings_page_shows_the_same_tables_and_axe_finds_nothing(
    context: BrowserContext,
) -> None:
    page = context.new_page()
    page.goto("/_consent/settings?next=/")
    expect(page.locator("table.consent-cookies")).to_have_count(3)
    check_table(page, "main")
    assert violations(page, "html") == []


@pytest.mark.browser
def test_a_cookie_set_by_the_pages_script_is_inventoried_as_seen_only_from_browsers(
    context: BrowserContext, inventory_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = context.new_page()
    page.goto("/")
    assert "_hjid" in {cookie["name"] for cookie in context.cookies()}, "the script ran"
    # The browser sends _hjid back. Of the Cookie headers the server has not met, one in
    # READ_ONE_HEADER_IN is read: an analytics cookie that changes on every page, as real ones
    # do, makes each page's header new.
    for visit in range(READ_ONE_HEADER_IN + 1):
        context.add_cookies([{"name": "_ga_XYZ", "value": f"GS1.1.{visit}", "url": page.url}])
        page.goto("/privacy")
    deadline = time.monotonic() + 15  # written within WRITE_INTERVAL (5 s) of the sighting
    while time.monotonic() < deadline:
        if inventory_file.exists() and "_hjid" in read_inventory(inventory_file).names:
            break
        time.sleep(0.2)
    names = read_inventory(inventory_file).names
    assert names["_hjid"].browser_only
    assert names["_hjid"].category == ""
    assert names["session"].set_by_server  # the home page sets it
    assert names["session"].category == "necessary"
    # And the command line fails the check on it, as a site's CI would.
    status = main(
        ["cookies", "--settings", str(POLICY), "--inventory", str(inventory_file), "--check"]
    )
    assert status == 1
    assert "_hjid (set by a script)" in capsys.readouterr().err
