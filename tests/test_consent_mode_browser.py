"""Google Consent Mode v2 in Chromium: the exact ``dataLayer`` a page's Google tags see.

A page whose head loads the site's own tag script (the usual ``dataLayer``/``gtag`` stub, then
``gtag('config', …)``), served by uvicorn through the middleware with Consent Mode on, under a
CSP of ``script-src 'self'`` or of a nonce alone. Every request that does not go to that server
is aborted, so nothing leaves for Google. Checked: a new visitor, a returning visitor who
allowed analytics only, a choice made on the page (no reload), and Global Privacy Control.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Route
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route as AppRoute

from consent import ConsentMiddleware
from tests.support import LiveServer, make_settings

NONCE = "pQ9sT2vX"
SITE_TAGS = (
    "window.dataLayer = window.dataLayer || [];\n"
    "function gtag(){dataLayer.push(arguments);}\n"
    "gtag('config', 'G-TEST');\n"
)
TIMEOUT_MS = 10_000
DENIED = "denied"
GRANTED = "granted"


def consent_state(analytics: str, ads: str, wait: bool) -> dict[str, Any]:
    state: dict[str, Any] = {
        "ad_storage": ads,
        "ad_user_data": ads,
        "ad_personalization": ads,
        "analytics_storage": analytics,
        "functionality_storage": GRANTED,
        "personalization_storage": DENIED,
        "security_storage": GRANTED,
    }
    if wait:
        state["wait_for_update"] = 500
    return state


def page_sequence(analytics: str, ads: str) -> list[list[Any]]:
    """What a page load puts in the dataLayer: our default and options, then the site's tag."""
    return [
        ["consent", "default", consent_state(analytics, ads, wait=True)],
        ["set", "ads_data_redaction", True],
        ["set", "url_passthrough", True],
        ["config", "G-TEST"],
    ]


async def shop(request: Request) -> HTMLResponse:
    strict = request.query_params.get("csp") == "nonce"
    nonce_attribute = ""
    if strict:
        request.state.csp_nonce = NONCE
        nonce_attribute = f' nonce="{NONCE}"'
    html = (
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>Shop</title>"
        f'<script src="/site-tags.js"{nonce_attribute}></script></head>'
        "<body><main><h1>Shop</h1></main></body></html>"
    )
    policy = f"script-src 'nonce-{NONCE}'" if strict else "script-src 'self'"
    return HTMLResponse(html, headers={"content-security-policy": policy})


async def site_tags(request: Request) -> Response:
    return Response(SITE_TAGS, media_type="text/javascript")


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    settings = make_settings(
        consent_mode={
            "enabled": True,
            "wait_for_update": 500,
            "ads_data_redaction": True,
            "url_passthrough": True,
        }
    )
    app = Starlette(routes=[AppRoute("/", shop), AppRoute("/site-tags.js", site_tags)])
    with LiveServer(ConsentMiddleware(app, settings=settings)) as live:
        yield live


def new_context(browser: Browser, server: LiveServer, **options: Any) -> BrowserContext:
    context = browser.new_context(**options)
    context.set_default_timeout(TIMEOUT_MS)

    def only_the_site(route: Route) -> None:
        if route.request.url.startswith(server.url + "/"):
            route.continue_()
        else:
            route.abort()

    context.route("**/*", only_the_site)
    return context


def data_layer(page: Page) -> list[list[Any]]:
    return list(page.evaluate("() => window.dataLayer.map((e) => Array.prototype.slice.call(e))"))


def csp_violations(page: Page) -> Any:
    return page.evaluate("() => window.__violations || []")


def open_shop(context: BrowserContext, server: LiveServer, csp: str) -> Page:
    page = context.new_page()
    page.add_init_script(
        "window.__violations = [];"
        "document.addEventListener('securitypolicyviolation',"
        " (e) => window.__violations.push(e.blockedURI + ' ' + e.violatedDirective));"
    )
    query = "?csp=nonce" if csp == "nonce" else ""
    page.goto(f"{server.url}/{query}")
    page.wait_for_load_state("load")
    return page


CSPS = ["self", "nonce"]
#: The src of the head's first element other than <meta> and <title>: the head point's script.
FIRST_IN_HEAD_BUT_META_AND_TITLE = """() => [...document.head.children].find(
    (element) => !["META", "TITLE"].includes(element.tagName)).src"""


@pytest.mark.parametrize("csp", CSPS)
def test_a_new_visitor_starts_with_everything_optional_denied(
    browser: Browser, server: LiveServer, csp: str
) -> None:
    context = new_context(browser, server)
    try:
        page = open_shop(context, server, csp)
        assert data_layer(page) == page_sequence(analytics=DENIED, ads=DENIED)
        head_first = page.evaluate(FIRST_IN_HEAD_BUT_META_AND_TITLE)
        assert "/_consent/static/consent-mode.js" in head_first
        assert not [v for v in csp_violations(page) if "consent" in v]
    finally:
        context.close()


@pytest.mark.parametrize("csp", CSPS)
def test_a_returning_visitor_who_allowed_analytics_gets_it_by_default(
    browser: Browser, server: LiveServer, csp: str
) -> None:
    context = new_context(browser, server)
    try:
        page = open_shop(context, server, csp)
        status = page.evaluate(
            """() => fetch('/_consent', {method: 'POST', credentials: 'same-origin',
                headers: {'Content-Type': 'application/json', Accept: 'application/json'},
                body: JSON.stringify({action: 'save', categories: ['analytics']})})
                .then((r) => r.status)"""
        )
        assert status == 200
        again = open_shop(context, server, csp)
        # No "denied, then update": the default already says what the visitor chose.
        assert data_layer(again) == page_sequence(analytics=GRANTED, ads=DENIED)
    finally:
        context.close()


@pytest.mark.parametrize("csp", CSPS)
def test_a_choice_on_the_page_updates_without_a_reload(
    browser: Browser, server: LiveServer, csp: str
) -> None:
    context = new_context(browser, server)
    try:
        page = open_shop(context, server, csp)
        page.evaluate("window.__samePage = true")
        page.locator('#consent-banner button[value="accept_all"]').click()
        page.wait_for_function("() => window.dataLayer.length > 4")
        assert page.evaluate("window.__samePage === true")
        assert data_layer(page) == [
            *page_sequence(analytics=DENIED, ads=DENIED),
            ["consent", "update", consent_state(GRANTED, GRANTED, wait=False)],
        ]
    finally:
        context.close()


def test_gpc_keeps_everything_optional_denied(browser: Browser, server: LiveServer) -> None:
    context = new_context(browser, server, extra_http_headers={"Sec-GPC": "1"})
    try:
        page = open_shop(context, server, "self")
        assert data_layer(page) == page_sequence(analytics=DENIED, ads=DENIED)
        assert "Global Privacy Control" in page.locator("#consent-banner").inner_text()
    finally:
        context.close()
