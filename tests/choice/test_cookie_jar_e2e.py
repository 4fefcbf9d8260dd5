"""Chromium's cookie jar judges the Set-Cookie filter.

An app behind ``ConsentMiddleware``, served by uvicorn, sends crafted ``Set-Cookie`` lines for
cookies of refused categories to an undecided visitor; what Chromium then keeps is read from
its jar. The same app without the middleware shows which lines a browser would have kept, so
each case is known to be a real leak. Chromium is ``$CONSENT_CHROMIUM``, else
``/usr/bin/chromium``; without it these tests are skipped, except on CI, where they fail.

Chromium counts ``http://127.0.0.1`` as a secure context, so ``Secure`` and ``__Host-``
cookies are stored over plain HTTP there. Cookies do not depend on the port, so both servers
write to the same jar.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Browser, BrowserContext
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from consent import ConsentMiddleware
from tests.support import LiveServer, make_settings

TIMEOUT_MS = 10_000
HOUR = "Max-Age=3600"
#: Declared in refused categories for an undecided visitor.
REFUSED = ("_ga", "_ga_*", "_fbp", "__Secure-x", "__Host-y")
CATEGORIES = {
    "necessary": {"label": "Necessary", "required": True, "cookies": ["session"]},
    "analytics": {"label": "Analytics", "cookies": ["_ga", "_ga_*", "__Secure-x", "__Host-y"]},
    "marketing": {"label": "Marketing", "cookies": ["_fbp"]},
}
#: Twelve hours ahead with a +23:59 zone: email.utils reads it as the past, browsers ignore
#: the zone.
SOON_WITH_OFFSET = (datetime.now(UTC) + timedelta(hours=12)).strftime("%a, %d %b %Y %H:%M:%S +2359")


def case(lines: str | list[str], leaks: bool | None, label: str) -> Any:
    """A response's Set-Cookie lines; ``leaks``: whether Chromium keeps a refused cookie from
    them when nothing filters them (None: not asserted)."""
    return pytest.param([lines] if isinstance(lines, str) else lines, leaks, id=label)


CASES = [
    case("_ga=x; Max-Age=0; Max-Age=31536000", True, "last-max-age-wins"),
    case("_ga=x; max-age=0; MAX-AGE=31536000", True, "max-age-any-case"),
    case("_ga=x; Max-Age=0 ; Max-Age = 31536000", True, "max-age-spaced"),
    case("_ga=x; Max-Age=0; Max-Age=abc", True, "invalid-last-max-age"),
    case("_ga=x; Max-Age=0; Max-Age=0x10", True, "hex-last-max-age"),
    case("_ga=x; Max-Age=-1; Max-Age=+5", True, "plus-sign-max-age"),
    case("_ga=x; Max-Age=+0", False, "plus-zero-max-age"),
    case("_ga=x; Max-Age=-0; Max-Age=", None, "empty-last-max-age"),
    case("_ga=x; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=100", True, "max-age-over-past"),
    case("_ga=x; Max-Age=100; Expires=Thu, 01 Jan 1970 00:00:00 GMT", True, "past-after-max-age"),
    case("_ga=x; Expires=Wed, 01 Jan 69 00:00:00 GMT", True, "two-digit-year-69"),
    case("_ga=x; Expires=01-Jan-50 00:00:00", True, "two-digit-year-50"),
    case("_ga=x; Expires=00:00:00 01 Jan 69", True, "date-parts-reordered"),
    case(f"_ga=x; Expires={SOON_WITH_OFFSET}", True, "time-zone-offset"),
    case("_ga=x; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Expires=junk", True, "invalid-last-date"),
    case(
        "_ga=x; expires=Thu, 01-Jan-1970 00:00:00 GMT; expires=Thu, 01-Jan-2099 00:00:00 GMT",
        True,
        "last-expires-wins",
    ),
    case("_ga=x; Expires=Sat, 31 Feb 1970 00:00:00 GMT", True, "date-that-does-not-exist"),
    case("_ga=x; Expires=Thu, 01 Jan 1600 00:00:00 GMT", False, "year-before-1601"),
    case("_ga=x; Expires=Thu, 01 Jan 1970 24:00:00 GMT", True, "hour-24"),
    case("_ga =x", True, "space-before-equals"),
    case("_ga\t=x; Path=/", True, "tab-before-equals"),
    case("_ga=x\x01; Max-Age=0", False, "control-character"),
    case("_ga; Max-Age=31536000", False, "no-equals-sign"),
    case("=_ga", False, "empty-name"),
    case("_ga_X=1; Path=/; Max-Age=0; Max-Age=1000", True, "glob-name"),
    case("_fbp=1; Secure; Max-Age=0; Max-Age=1000", True, "secure-flag"),
    case("_fbp=1; Path=/send; Max-Age=0; Max-Age=1000", True, "explicit-path"),
    case("__Secure-x=1; Secure; Max-Age=0; Max-Age=1000", True, "secure-prefix"),
    case("__Host-y=1; Secure; Path=/; Max-Age=0; Max-Age=1000", True, "host-prefix"),
    case(["_ga=1; Max-Age=0", "_ga=2; Max-Age=1000"], True, "deletion-then-set"),
    case(["_ga=1; Max-Age=1000", "_ga=; Max-Age=0; Max-Age=x"], True, "set-then-deletion"),
    case(["session=s", "_ga=x; Max-Age=0; Max-Age=100", "_fbp=f"], True, "mixed-lines"),
]


def set_cookies(request: Request) -> PlainTextResponse:
    """Sends the ``line`` query parameters as Set-Cookie headers, in order."""
    response = PlainTextResponse("ok")
    for line in request.query_params.getlist("line"):
        response.raw_headers.append((b"set-cookie", line.encode("latin-1")))
    return response


def cookie_app() -> Starlette:
    return Starlette(routes=[Route("/send", set_cookies)])


def serve(app: Any) -> Iterator[LiveServer]:
    server = LiveServer(app).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def filtered() -> Iterator[LiveServer]:
    settings = make_settings(categories=CATEGORIES)
    yield from serve(ConsentMiddleware(cookie_app(), settings=settings))


@pytest.fixture(scope="module")
def unfiltered() -> Iterator[LiveServer]:
    yield from serve(cookie_app())


@pytest.fixture
def new_context(browser: Browser) -> Iterator[Callable[[], BrowserContext]]:
    """Makes fresh browser contexts, each with an empty jar; all are closed after the test."""
    contexts: list[BrowserContext] = []

    def make() -> BrowserContext:
        context = browser.new_context()
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


def send(context: BrowserContext, server: LiveServer, *lines: str) -> None:
    """Chromium loads a page whose response carries these Set-Cookie lines."""
    page = context.pages[0] if context.pages else context.new_page()
    response = page.goto(f"{server.url}/send?{urlencode([('line', line) for line in lines])}")
    assert response is not None and response.status == 200


def jar(context: BrowserContext) -> dict[str, dict[str, Any]]:
    return {cookie["name"]: dict(cookie) for cookie in context.cookies()}


def refused_in(context: BrowserContext) -> set[str]:
    """The cookies in the jar that belong to a category the visitor refused."""
    return {name for name in jar(context) if any(fnmatch.fnmatchcase(name, p) for p in REFUSED)}


def choose(context: BrowserContext, server: LiveServer, action: str) -> None:
    """Posts a consent choice from a page of the site, as the banner's script does."""
    send(context, server)
    page = context.pages[0]
    status = page.evaluate(
        """async (action) => {
            const response = await fetch('/_consent', {
                method: 'POST',
                headers: {'Content-Type': 'application/json'},
                body: JSON.stringify({action}),
            });
            return response.status;
        }""",
        action,
    )
    assert status == 200
    assert json.loads(page.evaluate("fetch('/_consent').then(r => r.text())"))["decided"]


@pytest.mark.parametrize(("lines", "leaks"), CASES)
def test_a_refused_cookie_never_reaches_the_jar(
    new_context: Callable[[], BrowserContext],
    filtered: LiveServer,
    unfiltered: LiveServer,
    lines: list[str],
    leaks: bool | None,
) -> None:
    unguarded = new_context()
    send(unguarded, unfiltered, *lines)
    if leaks is not None:
        assert bool(refused_in(unguarded)) is leaks, jar(unguarded)

    guarded = new_context()
    send(guarded, filtered, *lines)
    assert refused_in(guarded) == set(), jar(guarded)


@pytest.mark.parametrize(
    ("stored", "deletion"),
    [
        # Chromium reads the invalid last Max-Age as no Max-Age: a session cookie "x".
        pytest.param(f"_ga=1; {HOUR}", "_ga=x; Max-Age=0; Max-Age=abc", id="invalid-max-age"),
        # Chromium reads the invalid last Expires as no Expires.
        pytest.param(
            f"_ga=1; Path=/app; {HOUR}",
            "_ga=; Path=/app; Expires=01 Jan 70 0:0:0; Expires=junk",
            id="invalid-expires-with-path",
        ),
        # Without Secure, Chromium refuses any line for a __Host- name.
        pytest.param(
            f"__Host-y=1; Secure; Path=/; {HOUR}", "__Host-y=; Path=/; Max-Age=0", id="host-prefix"
        ),
        pytest.param(f"__Secure-x=1; Secure; {HOUR}", "__Secure-x=; Max-Age=0", id="secure-prefix"),
        pytest.param(
            f"_ga_X=1; Secure; {HOUR}", "_ga_X=; Secure; Max-Age=-1; Max-Age=+1", id="plus-sign"
        ),
    ],
)
def test_the_canonical_deletion_deletes_a_stored_cookie(
    new_context: Callable[[], BrowserContext],
    filtered: LiveServer,
    unfiltered: LiveServer,
    stored: str,
    deletion: str,
) -> None:
    name = stored.split("=", 1)[0]
    unguarded = new_context()
    send(unguarded, unfiltered, stored)
    assert name in jar(unguarded)
    send(unguarded, unfiltered, deletion)
    assert name in jar(unguarded), "as written, the deletion should not delete the cookie"

    guarded = new_context()
    send(guarded, unfiltered, stored)
    assert name in jar(guarded)
    send(guarded, filtered, deletion)
    assert name not in jar(guarded), jar(guarded)


def test_rejecting_all_removes_prefixed_cookies(
    new_context: Callable[[], BrowserContext], filtered: LiveServer, unfiltered: LiveServer
) -> None:
    context = new_context()
    choose(context, filtered, "accept_all")
    send(
        context,
        filtered,
        f"__Secure-x=1; Secure; Path=/; {HOUR}",
        f"__Host-y=1; Secure; Path=/; {HOUR}",
        f"_ga=1; Path=/; {HOUR}",
    )
    assert refused_in(context) == {"__Secure-x", "__Host-y", "_ga"}
    assert jar(context)["__Host-y"]["secure"] and jar(context)["__Secure-x"]["secure"]

    # An expiry without Secure, as revocation sent it before, leaves both in place.
    send(context, unfiltered, "__Secure-x=; Max-Age=0; Path=/", "__Host-y=; Max-Age=0; Path=/")
    assert refused_in(context) == {"__Secure-x", "__Host-y", "_ga"}

    choose(context, filtered, "reject_all")
    assert refused_in(context) == set(), jar(context)
    assert "consent" in jar(context)
