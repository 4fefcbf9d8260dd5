"""In Chromium: switches for the services inside a category. A refused service's cookie never
reaches the jar and its ``data-consent-service`` script never runs; a granted one's do. And
re-consent: a service added after the visitor chose is asked about alone.

Chromium is ``$CONSENT_CHROMIUM``, else ``/usr/bin/chromium``; without it these tests are
skipped, except on CI, where they fail.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from consent import ConsentMiddleware
from tests.support import LiveServer, make_settings

TIMEOUT_MS = 10_000
CATEGORIES: dict[str, Any] = {
    "necessary": {"label": "Necessary", "required": True, "cookies": ["session"]},
    "analytics": {
        "label": "Analytics",
        "cookies": ["_ga"],
        "services": {
            "matomo": {"label": "Matomo", "cookies": ["_pk_id*"]},
            "hotjar": {"label": "Hotjar", "cookies": ["_hjid"]},
        },
    },
    "marketing": {"label": "Marketing", "cookies": ["_fbp"]},
}
#: Each gated script notes its name when it runs.
PAGE = """<!doctype html><html lang="en"><head><title>services</title></head><body>
<main><h1>Services</h1></main>
<script type="text/plain" data-consent-category="analytics">
window.ran = (window.ran || []).concat("analytics")</script>
<script type="text/plain" data-consent-service="matomo">
window.ran = (window.ran || []).concat("matomo")</script>
<script type="text/plain" data-consent-service="hotjar">
window.ran = (window.ran || []).concat("hotjar")</script>
</body></html>"""
RAN = "(window.ran || []).slice().sort()"


async def page_setting_cookies(request: Request) -> HTMLResponse:
    """Every page sets a cookie of each service and of the category itself."""
    response = HTMLResponse(PAGE)
    for name in ("_ga", "_pk_id.1", "_hjid", "_fbp", "session"):
        response.set_cookie(name, "1", max_age=3600)
    return response


@pytest.fixture(scope="module")
def site() -> Iterator[LiveServer]:
    inner = Starlette(routes=[Route("/", page_setting_cookies)])
    app = ConsentMiddleware(inner, settings=make_settings(categories=CATEGORIES))
    with LiveServer(app) as server:
        yield server


@pytest.fixture
def context(browser: Browser, site: LiveServer) -> Iterator[BrowserContext]:
    context = browser.new_context(base_url=site.url)
    context.set_default_timeout(TIMEOUT_MS)
    yield context
    context.close()


def jar(context: BrowserContext) -> set[str]:
    return {cookie["name"] for cookie in context.cookies()}


@pytest.mark.browser
def test_a_refused_service_sets_no_cookie_and_runs_no_script(
    context: BrowserContext,
) -> None:
    page: Page = context.new_page()
    page.goto("/")
    assert jar(context) == {"session"}
    assert page.evaluate(RAN) == []

    page.locator("#consent-banner").get_by_role("button", name="Customise settings").click()
    dialog = page.locator("#consent-preferences")
    expect(dialog).to_be_visible()
    analytics = dialog.get_by_role("switch", name="Analytics")
    matomo = dialog.get_by_role("switch", name="Matomo")
    hotjar = dialog.get_by_role("switch", name="Hotjar")
    services = dialog.get_by_role("group", name="Services in Analytics")
    expect(services).to_be_visible()
    # While the category is off its services cannot be switched; turning it on grants them all.
    expect(matomo).to_be_disabled()
    analytics.click()
    expect(matomo).to_be_enabled()
    expect(matomo).to_be_checked()
    expect(hotjar).to_be_checked()
    matomo.focus()
    page.keyboard.press("Space")  # the keyboard works the switch
    expect(matomo).not_to_be_checked()
    dialog.get_by_role("button", name="Save settings").click()
    expect(dialog).to_be_hidden()

    # Without a reload, the granted service's script ran and the refused one's did not.
    assert page.evaluate(RAN) == ["analytics", "hotjar"]
    page.reload()
    assert page.evaluate(RAN) == ["analytics", "hotjar"]
    names = jar(context)
    assert {"_ga", "_hjid", "session", "consent"} <= names
    assert "_pk_id.1" not in names, "a refused service's cookie reached the jar"
    assert "_fbp" not in names
    granted = page.evaluate("fetch('/_consent').then(function (r) { return r.json(); })")
    assert granted["services"] == {"analytics.matomo": False, "analytics.hotjar": True}


@pytest.mark.browser
def test_on_a_right_to_left_page_our_english_runs_left_to_right(context: BrowserContext) -> None:
    """Our elements carry their language's direction, so on a right-to-left page the banner and
    the dialog read left to right and the services indent from the left, as in English."""
    page = context.new_page()
    page.goto("/")
    page.evaluate("document.documentElement.dir = 'rtl'")
    banner = page.locator("#consent-banner")
    assert banner.evaluate("(element) => getComputedStyle(element).direction") == "ltr"
    banner.get_by_role("button", name="Customise settings").click()
    dialog = page.locator("#consent-preferences")
    services = dialog.get_by_role("group", name="Services in Analytics")
    expect(services).to_be_visible()
    assert dialog.evaluate("(element) => getComputedStyle(element).direction") == "ltr"
    indent = services.evaluate(
        """(group) => {
          const own = group.getBoundingClientRect();
          const outer = group.parentElement.getBoundingClientRect();
          return {left: own.left - outer.left, right: outer.right - own.right};
        }"""
    )
    assert indent["left"] > indent["right"] + 10, indent


@pytest.mark.browser
def test_the_dialog_reopens_with_the_services_as_chosen(context: BrowserContext) -> None:
    page = context.new_page()
    page.goto("/")
    page.locator("#consent-banner").get_by_role("button", name="Accept all").click()
    expect(page.locator("#consent-banner")).to_be_hidden()
    assert page.evaluate(RAN) == ["analytics", "hotjar", "matomo"]
    page.reload()
    assert {"_pk_id.1", "_hjid", "_ga", "_fbp"} <= jar(context)

    page.locator("#consent-settings-control").get_by_role("button").click()
    dialog = page.locator("#consent-preferences")
    expect(dialog).to_be_visible()
    matomo = dialog.get_by_role("switch", name="Matomo")
    expect(matomo).to_be_checked()
    matomo.click()
    dialog.get_by_role("button", name="Save settings").click()
    expect(dialog).to_be_hidden()
    assert "_pk_id.1" not in jar(context), "withdrawing a service did not expire its cookie"
    assert "_hjid" in jar(context)


#: The same site before Hotjar was added: its visitors never answered about Hotjar.
BEFORE_HOTJAR: dict[str, Any] = {
    **CATEGORIES,
    "analytics": {
        "label": "Analytics",
        "cookies": ["_ga"],
        "services": {"matomo": {"label": "Matomo", "cookies": ["_pk_id*"]}},
    },
}


@pytest.fixture(scope="module")
def site_before_hotjar() -> Iterator[LiveServer]:
    """Served on another port of the same host: the browser sends it the same cookies. Hotjar's
    cookie, unknown to it, is blocked, so no Hotjar cookie exists before the new site asks."""
    inner = Starlette(routes=[Route("/", page_setting_cookies)])
    settings = make_settings(categories=BEFORE_HOTJAR, undeclared_cookies="block")
    app = ConsentMiddleware(inner, settings=settings)
    with LiveServer(app) as server:
        yield server


@pytest.mark.browser
def test_re_consent_on_a_new_service(
    context: BrowserContext, site: LiveServer, site_before_hotjar: LiveServer
) -> None:
    page = context.new_page()
    page.goto(site_before_hotjar.url + "/")
    page.locator("#consent-banner").get_by_role("button", name="Accept all").click()
    expect(page.locator("#consent-banner")).to_be_hidden()
    assert page.evaluate(RAN) == ["analytics", "matomo"]  # no hotjar on this site yet

    page.goto(site.url + "/")  # the site now offers Hotjar too
    banner = page.locator("#consent-banner")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("New since your last choice: Hotjar.")
    expect(banner.get_by_role("button", name="Accept all")).to_have_count(0)
    # The earlier choice stands; the new service is refused until answered.
    assert page.evaluate(RAN) == ["analytics", "matomo"]
    assert "_hjid" not in jar(context) and "_pk_id.1" in jar(context)

    banner.get_by_role("button", name="Accept the new ones").click()
    expect(banner).to_be_hidden()
    assert page.evaluate(RAN) == ["analytics", "hotjar", "matomo"]
    page.reload()
    expect(page.locator("#consent-banner")).to_have_count(0)
    assert {"_hjid", "_pk_id.1", "_ga", "_fbp"} <= jar(context)


@pytest.mark.browser
def test_refusing_the_new_service_keeps_the_rest_and_asks_no_more(
    context: BrowserContext, site: LiveServer, site_before_hotjar: LiveServer
) -> None:
    page = context.new_page()
    page.goto(site_before_hotjar.url + "/")
    page.locator("#consent-banner").get_by_role("button", name="Accept all").click()
    expect(page.locator("#consent-banner")).to_be_hidden()
    page.goto(site.url + "/")
    page.locator("#consent-banner").get_by_role("button", name="Refuse the new ones").click()
    expect(page.locator("#consent-banner")).to_be_hidden()
    page.reload()
    expect(page.locator("#consent-banner")).to_have_count(0)
    assert page.evaluate(RAN) == ["analytics", "matomo"]
    names = jar(context)
    assert "_hjid" not in names and {"_pk_id.1", "_ga", "_fbp"} <= names
