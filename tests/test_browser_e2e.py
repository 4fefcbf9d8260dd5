"""End-to-end tests in a real Chromium, against the example site served by uvicorn.

Chromium is ``$CONSENT_CHROMIUM``, else ``/usr/bin/chromium``. Without it these tests are
skipped, except on CI (``$CI`` set), where they fail.

Screenshots go to a temporary folder, so a test run leaves the tree as it was. To refresh the
README's copies in ``docs/screenshots/`` (and the old engines' in
``docs/screenshots/old-engines/``), run ``.venv/bin/python scripts/screenshots.py``: it runs the
tests that take screenshots with ``CONSENT_SCREENSHOTS_DIR=docs/screenshots``
(``tests.support.screenshot_dir``).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Locator,
    Page,
    ViewportSize,
    expect,
)
from playwright.sync_api import Response as BrowserResponse
from playwright.sync_api import Route as BrowserRoute
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from consent import ConsentMiddleware, ConsentSettings
from tests.support import LiveServer, screenshot_dir

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from examples.starlette_app import create_app  # noqa: E402

POLICY = REPO / "examples" / "policy.toml"
VIEWPORT: ViewportSize = {"width": 1280, "height": 800}
OLD_FIREFOX = "Mozilla/5.0 (Windows NT 6.1; rv:10.0) Gecko/20100101 Firefox/10.0"
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


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The README's screenshots go straight into ``$CONSENT_SCREENSHOTS_DIR`` when it is set."""
    return screenshot_dir(tmp_path_factory, "")


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
    screenshots: Path,
) -> None:
    from axe_playwright_python.sync_playwright import Axe

    page = show(new_context)
    page.screenshot(path=screenshots / png, animations="disabled")
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


# 8. Browsers the policy supports that lack <dialog>, fetch, custom properties or flexbox -------

#: Internet Explorer 11, Firefox before 98 and Safari before 15.4 have no <dialog>.
WITHOUT_DIALOG = "delete HTMLDialogElement.prototype.showModal; delete window.HTMLDialogElement;"
WITHOUT_FETCH = "delete window.fetch;"
#: Newer DOM that consent.js must check for or do without (Internet Explorer 11 lacks them).
WITHOUT_NEWER_DOM = (
    "delete window.CustomEvent; delete Element.prototype.closest;"
    " delete Element.prototype.classList; delete window.FormData;"
    " delete SubmitEvent.prototype.submitter;"
)
MISSING_APIS = (
    "[typeof HTMLDialogElement, typeof fetch, typeof CustomEvent, typeof FormData,"
    " typeof document.body.closest, typeof document.body.classList]"
)
RECORD_CHANGES = (
    "document.addEventListener('consent:change', function (event) {"
    " (window.__consentChanges = window.__consentChanges || []).push(event.detail.decided); });"
)
STYLESHEET_URL = "**/_consent/static/consent.css*"
#: A declaration that an engine without custom properties, flexbox or grid drops.
CSS3_DECLARATION = re.compile(
    r"^\s*(?:--[\w-]+|[\w-]+:[^;]*var\(|display:\s*(?:inline-)?(?:flex|grid)\b"
    r"|(?:row-|column-)?gap:|flex[\w-]*:|grid[\w-]*:|align-items:|justify-content:)"
)
SUPPORTS_BLOCK = re.compile(r"@supports[^{]*\{(?:[^{}]*\{[^{}]*\})*\s*\}")
#: An @media block that tests a media feature (CSS 2.1 knows media types only).
FEATURE_MEDIA_BLOCK = re.compile(r"@media[^{]*\([^{]*\{(?:[^{}]*\{[^{}]*\})*\s*\}")
#: Whether an element shows whole in the window and is what a click at its centre reaches.
REACHABLE = """element => {
  const box = element.getBoundingClientRect();
  const inside = box.top >= 0 && box.left >= 0 && box.bottom <= innerHeight
    && box.right <= innerWidth && box.width > 0 && box.height > 0;
  const hit = document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2);
  return inside && hit !== null && (hit === element || element.contains(hit));
}"""
PHONE: ViewportSize = {"width": 390, "height": 844}
#: The longest notice: no browser update exists for this device, and the notice says so.
OLD_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 6_0 like Mac OS X) AppleWebKit/536.26 (KHTML, like Gecko)"
    " Version/6.0 Mobile/10A5376e Safari/8536.25"
)
#: On a phone, the notice and the banner together leave at least this share of the first
#: screen to the page.
PAGE_SHARE_ON_PHONE = 0.55


def older_stylesheet(css: str, *, media_features: bool) -> str:
    """consent.css as an older engine reads it: without custom properties, flexbox, grid, gap
    and @supports; without ``media_features``, also without the @media blocks that test one
    (a CSS 2.1 engine, such as NetSurf)."""
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.DOTALL)
    css = SUPPORTS_BLOCK.sub("", css)
    if not media_features:
        css = FEATURE_MEDIA_BLOCK.sub("", css)

    def keep_css21(rule: re.Match[str]) -> str:
        kept = [d for d in rule.group(1).split(";") if not CSS3_DECLARATION.match(d)]
        return "{" + ";".join(kept) + "}"

    return re.sub(r"\{([^{}]*)\}", keep_css21, css)


def old_browser_context(
    new_context: Callable[..., BrowserContext], script: str, media_features: bool, **options: Any
) -> BrowserContext:
    """A context whose pages lack what ``script`` deletes and get the older stylesheet."""
    context = new_context(**options)
    context.add_init_script(script)

    def rewrite(route: BrowserRoute) -> None:
        response = route.fetch()
        route.fulfill(
            response=response, body=older_stylesheet(response.text(), media_features=media_features)
        )

    context.route(STYLESHEET_URL, rewrite)
    return context


def boxes_overlap(one: Locator, other: Locator) -> bool:
    a, b = one.bounding_box(), other.bounding_box()
    assert a is not None
    assert b is not None
    return (
        a["x"] < b["x"] + b["width"]
        and b["x"] < a["x"] + a["width"]
        and a["y"] < b["y"] + b["height"]
        and b["y"] < a["y"] + a["height"]
    )


def expect_reachable(controls: Locator) -> None:
    """Every control shows (scrolled to if need be) and is not covered by anything."""
    assert controls.count() > 0
    for control in controls.all():
        control.scroll_into_view_if_needed()
        assert control.evaluate(REACHABLE), f"{control.text_content()!r} is covered or cut off"


def save_on_settings_page(page: Page, analytics: bool) -> None:
    """On the no-JavaScript settings page: set the analytics switch, save, come back to /."""
    expect(page.get_by_role("heading", level=1)).to_have_text("Cookie settings")
    expect_reachable(page.locator("main button, main input:not([type=hidden]):not([disabled])"))
    switch = page.get_by_role("switch", name="Analytics")
    switch.set_checked(analytics)
    with page.expect_navigation():
        page.get_by_role("button", name="Save settings").click()
    assert urlsplit(page.url).path == "/"


def test_the_older_stylesheet_keeps_css21_only() -> None:
    css = (REPO / "src" / "consent" / "page" / "ui" / "static" / "consent.css").read_text("utf-8")
    with_media = older_stylesheet(css, media_features=True)
    css21 = older_stylesheet(css, media_features=False)
    assert "var(" in css and "@supports" in css and "@media (" in css
    assert "var(" not in with_media and "@supports" not in with_media
    assert "@media (max-width" in with_media
    assert "@media" not in css21
    assert "color: #1a1a1a" in css21, "the plain declarations must stay"
    flexible = older_stylesheet(".a { display: flex; gap: 1em; color: red }", media_features=True)
    assert " ".join(flexible.split()) == ".a { color: red }"


@pytest.mark.browser
@pytest.mark.parametrize("media_features", [True, False], ids=["ie11", "css21"])
def test_flows_without_dialog_fetch_or_css3(
    new_context: Callable[..., BrowserContext], media_features: bool
) -> None:
    missing = WITHOUT_DIALOG + WITHOUT_FETCH + WITHOUT_NEWER_DOM

    # The notice and the banner: side by side on the screen, every control reachable.
    context = old_browser_context(new_context, missing, media_features, user_agent=OLD_FIREFOX)
    page = context.new_page()
    page.goto("/")
    assert page.evaluate(MISSING_APIS) == ["undefined"] * 6
    notice, banner = page.locator("#browser-notice"), page.locator("#consent-banner")
    expect(notice).to_be_visible()
    expect(banner).to_be_visible()
    position = banner.evaluate("element => getComputedStyle(element).position")
    assert position == ("fixed" if media_features else "relative"), "the stylesheet was not served"
    assert banner.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(255, 255, 255)"
    expect(page.locator("#consent-preferences")).to_have_count(0)
    expect(page.locator("#consent-settings-control")).to_be_hidden()
    assert not boxes_overlap(notice, banner), "the notice and the banner overlap"
    expect_reachable(notice.locator("a, button"))
    expect_reachable(banner.locator("a, button"))

    # Dismissing the notice is a plain form post.
    with page.expect_navigation():
        notice.get_by_role("button", name="Dismiss").click()
    expect(page.locator("#browser-notice")).to_have_count(0)
    assert ConsentSettings.from_toml(POLICY).notice_cookie_name in cookie_names(context)

    # Accept all posts the form; "Cookie settings" then opens the settings page.
    with page.expect_navigation():
        page.locator("#consent-banner").get_by_role("button", name="Accept all").click()
    expect(page.locator("#consent-banner")).to_have_count(0)
    assert {"_ga", "_fbp"} <= cookie_names(context)
    control = page.locator("#consent-settings-control").get_by_role("button")
    expect_reachable(control)
    control.click()
    page.wait_for_url("**/_consent/settings?**")
    save_on_settings_page(page, analytics=False)
    assert "_ga" not in cookie_names(context), "withdrawing consent did not expire _ga"

    # Reject all, in a new visit.
    context = old_browser_context(new_context, missing, media_features)
    page = context.new_page()
    page.goto("/")
    with page.expect_navigation():
        page.locator("#consent-banner").get_by_role("button", name="Reject all").click()
    expect(page.locator("#consent-banner")).to_have_count(0)
    assert "consent" in cookie_names(context)
    assert not cookie_names(context) & {"_ga", "_fbp"}

    # Customise settings reaches the settings page, which saves the choice.
    context = old_browser_context(new_context, missing, media_features)
    page = context.new_page()
    page.goto("/")
    page.locator("#consent-banner").get_by_role("button", name="Customise settings").click()
    page.wait_for_url("**/_consent/settings?**")
    assert parse_qs(urlsplit(page.url).query)["next"] == ["/"]
    save_on_settings_page(page, analytics=True)
    expect(page.locator("#categories")).to_contain_text("analytics: allowed")
    names = cookie_names(context)
    assert "_ga" in names
    assert "_fbp" not in names


@pytest.mark.browser
def test_without_dialog_the_script_still_posts_and_opens_the_settings_page(
    new_context: Callable[..., BrowserContext],
) -> None:
    """fetch is there (Firefox 90, Safari 15): choices post as JSON, settings open as a page."""
    context = new_context()
    context.add_init_script(WITHOUT_DIALOG + WITHOUT_NEWER_DOM + RECORD_CHANGES)
    page = context.new_page()
    page.goto("/")
    expect(page.locator("#consent-preferences")).to_have_count(0)

    page.locator("#consent-banner").get_by_role("button", name="Customise settings").click()
    page.wait_for_url("**/_consent/settings?**")
    page.goto("/")

    page.evaluate(MARK_REALM)
    page.locator("#consent-banner").get_by_role("button", name="Accept all").click()
    expect(page.locator("#consent-banner")).to_be_hidden()
    expect(page.locator("#analytics-script")).to_have_text("The analytics script ran.")
    assert page.evaluate(SAME_REALM), "the page was reloaded"
    assert page.evaluate("window.__consentChanges") == [True]
    assert "consent" in cookie_names(context)

    page.locator("#consent-settings-control").get_by_role("button").click()
    page.wait_for_url("**/_consent/settings?**")
    expect(page.get_by_role("switch", name="Analytics")).to_be_checked()


@pytest.mark.browser
@pytest.mark.parametrize("user_agent", [OLD_FIREFOX, OLD_IPHONE], ids=["update", "no-update"])
def test_notice_and_banner_leave_most_of_a_phone_screen_to_the_page(
    new_context: Callable[..., BrowserContext], user_agent: str
) -> None:
    from axe_playwright_python.sync_playwright import Axe

    page = new_context(viewport=PHONE, user_agent=user_agent).new_page()
    page.goto("/")
    notice, banner = page.locator("#browser-notice"), page.locator("#consent-banner")
    expect(notice).to_be_visible()
    expect(banner).to_be_visible()
    assert not boxes_overlap(notice, banner), "the notice and the banner overlap"
    boxes = [notice.bounding_box(), banner.bounding_box()]
    taken = sum(box["height"] for box in boxes if box is not None)
    left = (PHONE["height"] - taken) / PHONE["height"]
    assert left >= PAGE_SHARE_ON_PHONE, f"the page keeps {left:.0%} of the first screen"
    for box in boxes:
        assert box is not None
        assert box["y"] >= 0 and box["y"] + box["height"] <= PHONE["height"]
    expect_reachable(page.locator("#browser-notice a, #browser-notice button"))
    expect_reachable(page.locator("#consent-banner a, #consent-banner button"))
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()
