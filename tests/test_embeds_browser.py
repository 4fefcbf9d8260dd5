"""In Chromium: embed placeholders. An ``<iframe data-consent-service="youtube" data-src="…">``
makes no third-party request before consent; its placeholder loads it once, or grants the
service for good; a granted service's embeds load at once, and a visitor without JavaScript
gets the site's link. axe-core finds nothing wrong with a placeholder.

The third party is a made-up host whose every request is answered, and noted, by the test.
Chromium is ``$CONSENT_CHROMIUM``, else ``/usr/bin/chromium``; without it these tests are
skipped, except on CI, where they fail.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Route, expect
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route as PageRoute

from consent import ConsentMiddleware
from tests.support import LiveServer, make_settings
from tests.test_cookie_table_e2e import axe_path

TIMEOUT_MS = 10_000
THIRD_PARTY = "https://embeds.example/"
CATEGORIES: dict[str, Any] = {
    "necessary": {"label": "Necessary", "required": True},
    "analytics": {"label": "Analytics"},
    "marketing": {
        "label": "Marketing",
        "services": {"youtube": {"label": "YouTube"}, "vimeo": {"label": "Vimeo"}},
    },
}
#: Two embeds of YouTube, one of Vimeo, one of a service the site does not offer. The first is
#: written as the README says, hidden and with a link for visitors without JavaScript.
PAGE = f"""<!doctype html><html lang="en"><head><title>embeds</title></head><body>
<main><h1>Embeds</h1>
<iframe id="one" data-consent-service="youtube" data-src="{THIRD_PARTY}embed/one"
 title="First video" width="560" height="315" hidden></iframe>
<noscript><a href="{THIRD_PARTY}watch/one">Watch the first video on YouTube</a></noscript>
<iframe id="two" data-consent-service="youtube" data-src="{THIRD_PARTY}embed/two"
 title="Second video"></iframe>
<iframe id="three" data-consent-service="vimeo" data-src="{THIRD_PARTY}embed/three"
 title="Third video"></iframe>
<iframe id="four" data-consent-service="unknown" data-src="{THIRD_PARTY}embed/four"
 title="Fourth video"></iframe>
</main></body></html>"""
PLACEHOLDER_TEXT = "This content is hosted by YouTube. Load it?"
STATE = "fetch('/_consent').then(function (r) { return r.json(); })"


async def embeds_page(request: Request) -> HTMLResponse:
    return HTMLResponse(PAGE)


@pytest.fixture(scope="module")
def site() -> Iterator[LiveServer]:
    inner = Starlette(routes=[PageRoute("/", embeds_page)])
    app = ConsentMiddleware(inner, settings=make_settings(categories=CATEGORIES))
    with LiveServer(app) as server:
        yield server


class ThirdParty:
    """Every request the browser makes, noted; the made-up host's answered with a small page."""

    def __init__(self) -> None:
        self.requested: list[str] = []

    def handle(self, route: Route) -> None:
        url = route.request.url
        self.requested.append(url)
        if url.startswith(THIRD_PARTY):
            route.fulfill(status=200, content_type="text/html", body="<p>the video</p>")
        else:
            route.continue_()

    @property
    def embeds(self) -> list[str]:
        """The paths asked of the third party, in order."""
        return [url[len(THIRD_PARTY) :] for url in self.requested if url.startswith(THIRD_PARTY)]


def open_context(browser: Browser, site: LiveServer, **options: Any) -> BrowserContext:
    context = browser.new_context(base_url=site.url, **options)
    context.set_default_timeout(TIMEOUT_MS)
    return context


@pytest.fixture
def context(browser: Browser, site: LiveServer) -> Iterator[BrowserContext]:
    context = open_context(browser, site)
    yield context
    context.close()


@pytest.fixture
def third_party(context: BrowserContext) -> ThirdParty:
    party = ThirdParty()
    context.route("**/*", party.handle)
    return party


def placeholder(page: Page, frame_id: str) -> Any:
    """The placeholder consent.js put before the frame (its id is on the frame)."""
    found = page.locator(f"#{frame_id}").get_attribute("data-consent-placeholder")
    assert found, f"#{frame_id} has no placeholder"
    return page.locator(f"#{found}")


def wait_for_focus_on(page: Page, frame_id: str) -> None:
    """Waits until the page's focused element is the frame (its ``activeElement``, whatever the
    frame's own document does with the focus while it loads)."""
    page.wait_for_function(
        "id => document.activeElement !== null && document.activeElement.id === id", arg=frame_id
    )


def consent_cookies(context: BrowserContext) -> int:
    """How many consent cookies the browser keeps."""
    return sum(1 for cookie in context.cookies() if cookie["name"] == "consent")


@pytest.mark.browser
def test_an_embed_placeholder_that_makes_no_third_party_request_before_consent(
    context: BrowserContext, third_party: ThirdParty
) -> None:
    page = context.new_page()
    page.goto("/")
    first = placeholder(page, "one")
    expect(first).to_be_visible()
    expect(first).to_have_attribute("role", "group")
    expect(page.get_by_role("group", name=PLACEHOLDER_TEXT)).to_have_count(2)
    expect(first.get_by_role("button", name="Load once")).to_be_visible()
    always = first.get_by_role("button", name="Always allow YouTube")
    expect(always).to_be_visible()
    # Marketing is off: the placeholder says what allowing YouTube turns on besides.
    expect(always).to_have_accessible_description(
        "Always allowing YouTube also turns on the category Marketing; its other services stay off."
    )
    expect(placeholder(page, "three")).to_contain_text("This content is hosted by Vimeo.")
    for frame_id in ("one", "two", "three"):
        frame = page.locator(f"#{frame_id}")
        assert frame.get_attribute("src") is None, f"#{frame_id} got a src before consent"
        expect(frame).to_be_hidden()  # its placeholder stands in its place
    # An embed of a service the site does not offer stays unloaded, without a placeholder.
    assert page.locator("#four").get_attribute("src") is None
    assert page.locator("#four").get_attribute("data-consent-placeholder") is None
    page.wait_for_load_state("networkidle")
    assert third_party.embeds == [], "the page asked the third party before consent"


@pytest.mark.browser
def test_load_once_loads_that_embed_only_and_stores_nothing(
    context: BrowserContext, third_party: ThirdParty
) -> None:
    page = context.new_page()
    page.goto("/")
    load_once = placeholder(page, "one").get_by_role("button", name="Load once")
    load_once.focus()
    page.keyboard.press("Enter")  # the keyboard works the button
    one = page.locator("#one")
    expect(one).to_have_attribute("src", THIRD_PARTY + "embed/one")
    expect(one).to_be_visible()
    wait_for_focus_on(page, "one")  # the focus goes on to the content, not to the page's top
    expect(page.locator(".consent-embed")).to_have_count(2)  # the other two still wait
    assert page.locator("#two").get_attribute("src") is None
    expect(page.frame_locator("#one").locator("p")).to_have_text("the video")
    assert third_party.embeds == ["embed/one"]
    assert consent_cookies(context) == 0
    assert page.evaluate(STATE)["decided"] is False
    expect(page.locator("#consent-banner")).to_be_visible()

    page.reload()  # once is once
    expect(placeholder(page, "one")).to_be_visible()
    assert page.locator("#one").get_attribute("src") is None
    assert third_party.embeds == ["embed/one"]


@pytest.mark.browser
def test_always_allow_grants_the_service_and_loads_all_its_embeds(
    context: BrowserContext, third_party: ThirdParty
) -> None:
    page = context.new_page()
    page.goto("/")
    placeholder(page, "two").get_by_role("button", name="Always allow YouTube").click()
    for frame_id in ("one", "two"):
        expect(page.locator(f"#{frame_id}")).to_have_attribute(
            "src", f"{THIRD_PARTY}embed/{frame_id}"
        )
    wait_for_focus_on(page, "two")
    expect(placeholder(page, "three")).to_be_visible()  # Vimeo is still not allowed
    assert page.locator("#four").get_attribute("src") is None
    assert sorted(third_party.embeds) == ["embed/one", "embed/two"]
    # The choice is the visitor's now: the banner goes, the settings control stays.
    expect(page.locator("#consent-banner")).to_be_hidden()
    expect(page.locator("#consent-settings-control")).to_be_visible()
    state = page.evaluate(STATE)
    assert state["decided"] is True
    assert state["categories"] == {"necessary": True, "analytics": False, "marketing": True}
    assert state["services"] == {"marketing.youtube": True, "marketing.vimeo": False}
    assert consent_cookies(context) == 1

    page.reload()  # for good: loaded at once, no placeholder
    for frame_id in ("one", "two"):
        expect(page.locator(f"#{frame_id}")).to_have_attribute(
            "src", f"{THIRD_PARTY}embed/{frame_id}"
        )
    expect(page.locator(".consent-embed")).to_have_count(1)  # Vimeo's
    assert page.locator("#one").get_attribute("data-consent-placeholder") is None


@pytest.mark.browser
def test_a_granted_service_loads_at_once_and_a_later_grant_loads_what_waits(
    context: BrowserContext, third_party: ThirdParty
) -> None:
    page = context.new_page()
    page.goto("/")
    granted = page.evaluate(
        """fetch('/_consent', {method: 'POST', credentials: 'same-origin',
            headers: {'Content-Type': 'application/json'},
            body: JSON.stringify({action: 'save', categories: ['marketing'],
                                  services: {'marketing.vimeo': false}})})
          .then(function (r) { return r.json(); })"""
    )
    assert granted["services"] == {"marketing.youtube": True, "marketing.vimeo": False}
    page.reload()
    expect(page.locator("#one")).to_have_attribute("src", THIRD_PARTY + "embed/one")
    expect(page.locator("#one")).to_be_visible()
    expect(page.locator("#two")).to_have_attribute("src", THIRD_PARTY + "embed/two")
    vimeo = placeholder(page, "three")
    expect(vimeo).to_be_visible()
    # Marketing is on already: allowing Vimeo turns nothing else on, so the note is gone.
    expect(vimeo.locator(".consent-embed__note")).to_be_hidden()
    expect(vimeo.get_by_role("button", name="Always allow Vimeo")).to_have_accessible_description(
        ""
    )

    # Vimeo granted in the dialog: its embed loads on this page, without a reload.
    page.locator("#consent-settings-control").get_by_role("button").click()
    dialog = page.locator("#consent-preferences")
    dialog.get_by_role("switch", name="Vimeo").click()
    dialog.get_by_role("button", name="Save settings").click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#three")).to_have_attribute("src", THIRD_PARTY + "embed/three")
    expect(page.locator(".consent-embed")).to_have_count(0)
    assert page.locator("#four").get_attribute("src") is None
    assert sorted(third_party.embeds) == ["embed/one", "embed/three", "embed/two"]


@pytest.mark.browser
def test_without_javascript_the_site_links_to_the_content(
    browser: Browser, site: LiveServer
) -> None:
    context = open_context(browser, site, java_script_enabled=False)
    party = ThirdParty()
    context.route("**/*", party.handle)
    try:
        page = context.new_page()
        page.goto("/")
        link = page.get_by_role("link", name="Watch the first video on YouTube")
        expect(link).to_have_attribute("href", THIRD_PARTY + "watch/one")
        expect(page.locator("#one")).to_be_hidden()  # written hidden: no empty box
        page.wait_for_load_state("networkidle")
        assert party.embeds == []
    finally:
        context.close()


#: axe-core's violations in the page's main element.
RUN_AXE = """async () => {
  const result = await axe.run(document.querySelector('main'));
  return result.violations.map(v => ({id: v.id, help: v.help, nodes: v.nodes.map(n => n.html)}));
}"""


@pytest.mark.browser
def test_axe_finds_nothing_wrong_with_a_placeholder(
    context: BrowserContext, third_party: ThirdParty
) -> None:
    page = context.new_page()
    page.goto("/")
    expect(placeholder(page, "one")).to_be_visible()
    page.add_script_tag(path=str(axe_path()))
    assert page.evaluate(RUN_AXE) == []
