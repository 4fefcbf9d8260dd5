"""End-to-end tests in a real Chromium, against the example site served by uvicorn.

Chromium is ``$CONSENT_CHROMIUM``, else ``/usr/bin/chromium``. Without it these tests are
skipped, except on CI (``$CI`` set), where they fail. They also refresh the README's
screenshots in ``docs/screenshots/``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize, expect, sync_playwright
from playwright.sync_api import Response as BrowserResponse
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from consent import ConsentMiddleware, ConsentSettings
from tests.support import LiveServer

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from examples.starlette_app import create_app  # noqa: E402

SCREENSHOTS = REPO / "docs" / "screenshots"
POLICY = REPO / "examples" / "policy.toml"
VIEWPORT: ViewportSize = {"width": 1280, "height": 800}
OLD_FIREFOX = "Mozilla/5.0 (Windows NT 6.1; rv:10.0) Gecko/20100101 Firefox/10.0"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
#: Fail fast: every step here takes well under a second.
TIMEOUT_MS = 10_000
#: Marks the page's JavaScript realm: it survives only when the page is not reloaded.
MARK_REALM = "window.__consentE2E = 'same page'"
SAME_REALM = "window.__consentE2E === 'same page'"
FOCUS_IN_DIALOG = "document.getElementById('consent-preferences').contains(document.activeElement)"
FOCUSED_TEXT = "document.activeElement ? document.activeElement.textContent.trim() : ''"
STRICT_CSP = "default-src 'self'; script-src 'self'; style-src 'self'"


def serve(app: Any) -> Iterator[LiveServer]:
    server = LiveServer(app).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def site() -> Iterator[LiveServer]:
    """The example site (examples/starlette_app.py)."""
    yield from serve(create_app())


async def strict_csp_page(request: Request) -> HTMLResponse:
    html = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Strict CSP</title>"
        "</head><body><main><h1>Strict CSP</h1><p>No inline script or style here.</p></main>"
        "</body></html>"
    )
    response = HTMLResponse(html, headers={"Content-Security-Policy": STRICT_CSP})
    response.set_cookie("_ga", "GA1.1.1")
    return response


async def no_favicon(request: Request) -> Response:
    """Chromium asks for one; a 404 would be a console error."""
    return Response(status_code=204)


@pytest.fixture(scope="module")
def csp_site() -> Iterator[LiveServer]:
    """A page with a strict Content-Security-Policy, behind the middleware."""
    app = Starlette(
        routes=[Route("/", strict_csp_page), Route("/favicon.ico", no_favicon)],
        middleware=[Middleware(ConsentMiddleware, settings=ConsentSettings.from_toml(POLICY))],
    )
    yield from serve(app)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Chromium for this module only: Playwright's sync API holds an event loop while it runs,
    which would stop the rest of the suite from calling ``asyncio.run``."""
    executable = os.environ.get("CONSENT_CHROMIUM", "/usr/bin/chromium")
    if not Path(executable).is_file():
        reason = f"Chromium is not at {executable}; set CONSENT_CHROMIUM to its path"
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (CI must run the browser tests)")
        pytest.skip(reason)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


@pytest.fixture
def new_context(browser: Browser, site: LiveServer) -> Iterator[Callable[..., BrowserContext]]:
    """Makes fresh browser contexts on the example site; all are closed after the test."""
    contexts: list[BrowserContext] = []

    def make(**options: Any) -> BrowserContext:
        options = {"base_url": site.url, "viewport": VIEWPORT, **options}
        context = browser.new_context(**options)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def context(new_context: Callable[..., BrowserContext]) -> BrowserContext:
    return new_context()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


def cookie_names(context: BrowserContext) -> set[str]:
    return {cookie["name"] for cookie in context.cookies()}


def tab_to(page: Page, text: str, *, backwards: bool = False, limit: int = 30) -> None:
    """Presses Tab (or Shift+Tab) until the element labelled ``text`` has the focus."""
    key = "Shift+Tab" if backwards else "Tab"
    for _ in range(limit):
        page.keyboard.press(key)
        if page.evaluate(FOCUSED_TEXT) == text:
            return
    pytest.fail(f"{limit} presses of {key} did not reach {text!r}")


def expect_dialog_open(page: Page) -> None:
    dialog = page.locator("#consent-preferences")
    expect(dialog).to_be_visible()
    assert dialog.evaluate("dialog => dialog.open && dialog.matches(':modal')")
    assert page.evaluate(FOCUS_IN_DIALOG), "the focus is not inside the open dialog"


def is_consent_post(response: BrowserResponse) -> bool:
    return response.request.method == "POST" and urlsplit(response.url).path == "/_consent"


def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / name, animations="disabled")


# 1. Reject all, with JavaScript ---------------------------------------------------------------


@pytest.mark.browser
def test_reject_all_hides_the_banner_without_a_reload(context: BrowserContext, page: Page) -> None:
    page.goto("/")
    banner = page.locator("#consent-banner")
    expect(banner).to_be_visible()
    assert "_ga" not in cookie_names(context), "no analytics cookie before a choice"

    page.evaluate(MARK_REALM)
    banner.get_by_role("button", name="Reject all").click()
    expect(banner).to_be_hidden()
    assert page.evaluate(SAME_REALM), "the page was reloaded"
    names = cookie_names(context)
    assert "consent" in names
    assert not names & {"_ga", "_fbp"}
    expect(page.locator("#consent-settings-control")).to_be_visible()

    page.reload()
    expect(page.locator("#consent-banner")).to_have_count(0)
    expect(page.locator("#decided")).to_have_text("Decided: yes")
    assert not cookie_names(context) & {"_ga", "_fbp"}
    expect(page.locator("#analytics-script")).to_have_text("The analytics script has not run.")


@pytest.mark.browser
def test_a_gated_script_runs_only_once_its_category_is_allowed(page: Page) -> None:
    page.goto("/")
    script_state = page.locator("#analytics-script")
    expect(script_state).to_have_text("The analytics script has not run.")
    page.evaluate(MARK_REALM)
    page.locator("#consent-banner").get_by_role("button", name="Accept all").click()
    expect(script_state).to_have_text("The analytics script ran.")
    assert page.evaluate(SAME_REALM), "the page was reloaded"
    page.reload()
    expect(script_state).to_have_text("The analytics script ran.")


# 2. Customise settings, then change them again with the "Cookie settings" control -------------


@pytest.mark.browser
def test_customise_then_withdraw_with_the_settings_control(
    context: BrowserContext, page: Page
) -> None:
    page.goto("/")
    dialog = page.locator("#consent-preferences")
    analytics = dialog.get_by_role("switch", name="Analytics")

    page.evaluate(MARK_REALM)
    page.locator("#consent-banner").get_by_role("button", name="Customise settings").click()
    expect_dialog_open(page)
    assert page.evaluate(SAME_REALM), "Customise settings left the page"
    expect(analytics).not_to_be_checked()
    analytics.click()
    expect(analytics).to_be_checked()
    dialog.get_by_role("button", name="Save settings").click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#consent-banner")).to_be_hidden()
    assert page.evaluate(SAME_REALM), "saving reloaded the page"

    page.reload()
    names = cookie_names(context)
    assert "_ga" in names
    assert "_fbp" not in names
    expect(page.locator("#categories")).to_contain_text("analytics: allowed")

    control = page.locator("#consent-settings-control").get_by_role(
        "button", name="Cookie settings"
    )
    control.click()
    expect_dialog_open(page)
    expect(analytics).to_be_checked()
    expect(dialog.get_by_role("switch", name="Marketing")).not_to_be_checked()
    analytics.click()
    expect(analytics).not_to_be_checked()
    with page.expect_response(is_consent_post) as posted:
        dialog.get_by_role("button", name="Save settings").click()
    expiries = [
        header["value"]
        for header in posted.value.headers_array()
        if header["name"].lower() == "set-cookie" and header["value"].startswith("_ga=")
    ]
    assert expiries, "the response did not expire _ga"
    assert all("max-age=0" in value.lower() or "expires=" in value.lower() for value in expiries)
    expect(dialog).to_be_hidden()
    names = cookie_names(context)
    assert "_ga" not in names, "withdrawing analytics consent did not expire _ga"
    assert "consent" in names
    expect(control).to_be_focused()


# 3. Without JavaScript, every control is a plain form -----------------------------------------


@pytest.mark.browser
def test_reject_all_without_javascript(new_context: Callable[..., BrowserContext]) -> None:
    context = new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto("/")
    banner = page.locator("#consent-banner")
    expect(banner).to_be_visible()

    with page.expect_navigation() as navigation:
        banner.get_by_role("button", name="Reject all").click()
    response = navigation.value
    assert response is not None
    assert response.ok
    post = response.request.redirected_from
    assert post is not None
    assert post.method == "POST"
    assert urlsplit(post.url).path == "/_consent"
    redirect = post.response()
    assert redirect is not None
    assert redirect.status == 303
    assert urlsplit(page.url).path == "/"

    expect(page.locator("#consent-banner")).to_have_count(0)
    expect(page.locator("#decided")).to_have_text("Decided: yes")
    names = cookie_names(context)
    assert "consent" in names
    assert not names & {"_ga", "_fbp"}


@pytest.mark.browser
def test_customise_settings_without_javascript(new_context: Callable[..., BrowserContext]) -> None:
    context = new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto("/")

    page.locator("#consent-banner").get_by_role("button", name="Customise settings").click()
    page.wait_for_url("**/_consent/settings?**")
    url = urlsplit(page.url)
    assert url.path == "/_consent/settings"
    assert parse_qs(url.query)["next"] == ["/"]
    expect(page.get_by_role("heading", level=1)).to_have_text("Cookie settings")

    analytics = page.get_by_role("switch", name="Analytics")
    expect(analytics).not_to_be_checked()
    analytics.check()
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name="Save settings").click()
    response = navigation.value
    assert response is not None
    assert response.ok
    assert urlsplit(page.url).path == "/"
    expect(page.locator("#consent-banner")).to_have_count(0)
    expect(page.locator("#categories")).to_contain_text("analytics: allowed")
    names = cookie_names(context)
    assert "_ga" in names
    assert "_fbp" not in names


# 4. Keyboard only ------------------------------------------------------------------------------


@pytest.mark.browser
def test_keyboard_only(context: BrowserContext, page: Page) -> None:
    page.goto("/")
    dialog = page.locator("#consent-preferences")
    analytics = dialog.get_by_role("switch", name="Analytics")
    customise = page.locator("#consent-banner").get_by_role("button", name="Customise settings")

    tab_to(page, "Customise settings")
    page.keyboard.press("Enter")
    expect_dialog_open(page)
    expect(analytics).to_be_focused()
    page.keyboard.press("Space")
    expect(analytics).to_be_checked()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(customise).to_be_focused()

    # Closing without saving discards the change: the dialog shows the visitor's actual choice.
    page.keyboard.press("Enter")
    expect_dialog_open(page)
    expect(analytics).not_to_be_checked()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(customise).to_be_focused()
    assert "_ga" not in cookie_names(context)

    tab_to(page, "Accept all", backwards=True)
    page.keyboard.press("Space")
    expect(page.locator("#consent-banner")).to_be_hidden()
    expect(page.locator("#consent-settings-control").get_by_role("button")).to_be_focused()
    page.reload()
    assert {"_ga", "_fbp"} <= cookie_names(context)


# 5. The outdated-browser notice -----------------------------------------------------------------


@pytest.mark.browser
def test_outdated_browser_notice_can_be_dismissed(
    new_context: Callable[..., BrowserContext],
) -> None:
    context = new_context(user_agent=OLD_FIREFOX)
    page = context.new_page()
    page.goto("/")
    notice = page.locator("#browser-notice")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("Your browser is out of date")
    expect(notice).to_contain_text("Minimal requirements: Google Chrome 24+")
    expect(notice).to_contain_text("Mozilla Firefox 20+")
    # Injected right after <body>: above the site's own header (the body's margin aside).
    box = notice.bounding_box()
    header = page.locator("header").bounding_box()
    assert box is not None
    assert header is not None
    assert box["y"] <= 8, "the notice is not at the top"
    assert box["y"] + box["height"] <= header["y"], "the notice is not above the site's header"

    page.evaluate(MARK_REALM)
    notice.get_by_role("button", name="Dismiss").click()
    expect(notice).to_be_hidden()
    assert page.evaluate(SAME_REALM), "dismissing reloaded the page"

    assert ConsentSettings.from_toml(POLICY).notice_cookie_name in cookie_names(context)

    page.reload()
    expect(page.locator("#browser-notice")).to_have_count(0)
    expect(page.locator("#consent-banner")).to_be_visible()


# 6 and 7. Accessibility (axe) and the README's screenshots --------------------------------------


def show_banner(new_context: Callable[..., BrowserContext]) -> Page:
    page = new_context().new_page()
    page.goto("/")
    expect(page.locator("#consent-banner")).to_be_visible()
    return page


def show_dialog(new_context: Callable[..., BrowserContext]) -> Page:
    page = show_banner(new_context)
    page.get_by_role("button", name="Customise settings").click()
    expect_dialog_open(page)
    return page


def show_notice(new_context: Callable[..., BrowserContext]) -> Page:
    page = new_context(user_agent=OLD_FIREFOX).new_page()
    page.goto("/")
    expect(page.locator("#browser-notice")).to_be_visible()
    return page


@pytest.mark.browser
@pytest.mark.parametrize(
    ("show", "png"),
    [(show_banner, "banner.png"), (show_dialog, "dialog.png"), (show_notice, "notice.png")],
    ids=["banner", "dialog", "notice"],
)
def test_accessibility_and_screenshot(
    new_context: Callable[..., BrowserContext],
    show: Callable[[Callable[..., BrowserContext]], Page],
    png: str,
) -> None:
    from axe_playwright_python.sync_playwright import Axe

    page = show(new_context)
    screenshot(page, png)
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()


# A page with a strict Content-Security-Policy ---------------------------------------------------


@pytest.mark.browser
def test_strict_csp_page(browser: Browser, csp_site: LiveServer) -> None:
    context = browser.new_context(base_url=csp_site.url, viewport=VIEWPORT)
    context.set_default_timeout(TIMEOUT_MS)
    context.add_init_script(
        "document.addEventListener('securitypolicyviolation', function (event) {"
        " (window.__cspViolations = window.__cspViolations || [])"
        ".push(event.violatedDirective + ' ' + event.blockedURI); });"
    )
    messages: list[str] = []
    try:
        page = context.new_page()
        page.on(
            "console",
            lambda message: messages.append(
                f"{message.type}: {message.text} ({message.location.get('url')})"
            ),
        )
        page.on("pageerror", lambda error: messages.append(f"pageerror: {error}"))
        response = page.goto("/")
        assert response is not None
        assert response.headers["content-security-policy"] == STRICT_CSP
        banner = page.locator("#consent-banner")
        expect(banner).to_be_visible()
        # The stylesheet applied: the banner is fixed at the bottom of the viewport.
        assert banner.evaluate("element => getComputedStyle(element).position") == "fixed"

        page.evaluate(MARK_REALM)
        banner.get_by_role("button", name="Reject all").click()
        expect(banner).to_be_hidden()
        assert page.evaluate(SAME_REALM), "the page was reloaded"
        assert "consent" in cookie_names(context)
        assert "_ga" not in cookie_names(context)

        dialog = page.locator("#consent-preferences")
        page.locator("#consent-settings-control").get_by_role("button").click()
        expect_dialog_open(page)
        dialog.get_by_role("button", name="Close").click()
        expect(dialog).to_be_hidden()
        assert page.evaluate(SAME_REALM), "the page was reloaded"

        assert page.evaluate("window.__cspViolations || []") == []
        assert messages == []
    finally:
        context.close()
