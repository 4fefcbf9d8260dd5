"""The example site on Litestar: ``uvicorn examples.litestar_app:app``.

The same page as ``starlette_app.py``. ``/`` sets a necessary cookie (``session``), an analytics
cookie (``_ga``) and a marketing cookie (``_fbp``) on every visit; the middleware lets through
only those the visitor allowed. Litestar's ``request.state`` is built from ``scope["state"]``,
so handlers read ``request.state.consent`` and ``request.state.browser``.

Litestar runs its own middleware (``DefineMiddleware``) only *after* routing, for paths that
match a route handler: the consent endpoints under ``/_consent`` would answer 404 and pages that
are not found would get no banner. So the Litestar app is wrapped instead, and ``app`` here is
the ``ConsentMiddleware`` around it (``litestar_app`` is the Litestar instance).
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

from litestar import Litestar, MediaType, Request, Response, get
from litestar.datastructures import Cookie

from consent import ConsentMiddleware, ConsentSettings
from consent.browsers import BrowserInfo
from consent.cookies import ConsentState

POLICY = Path(__file__).with_name("policy.toml")


def page(title: str, body: str) -> str:
    """A complete HTML document with a ``<header>`` and a ``<main>`` landmark."""
    return f"""<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title></head>
<body>
<header><p><a href="/">asgi-consent demo</a></p></header>
<main>
<h1>{escape(title)}</h1>
{body}
</main>
</body>
</html>"""


@get("/", media_type=MediaType.HTML)
async def home(request: Request[Any, Any, Any]) -> Response[str]:
    consent: ConsentState = request.state.consent
    browser: BrowserInfo = request.state.browser
    browser_line = f"{browser.family} {browser.version_string}: {browser.verdict}"
    rows = "".join(
        f"<li>{escape(name)}: {'allowed' if consent.allows(name) else 'refused'}</li>"
        for name in ("necessary", "analytics", "marketing")
    )
    body = f"""
<p>This page sets a <code>session</code>, an <code>_ga</code> and an <code>_fbp</code> cookie.
Only the categories you allowed reach your browser.</p>
<h2>Your consent</h2>
<p id="decided">Decided: {"yes" if consent.decided else "no"}</p>
<ul id="categories">{rows}</ul>
<h2>Your browser</h2>
<p id="browser">{escape(browser_line)}</p>
<p><a href="/_consent/settings?next=/" data-consent-open>Change your cookie settings</a></p>
"""
    return Response(
        page("Welcome", body),
        media_type=MediaType.HTML,
        cookies=[
            Cookie(key="session", value="demo-session", httponly=True, samesite="lax"),
            Cookie(key="_ga", value="GA1.1.123456789.1700000000", max_age=3600 * 24 * 365),
            Cookie(key="_fbp", value="fb.1.1700000000.123456789", max_age=3600 * 24 * 90),
        ],
    )


@get("/privacy", media_type=MediaType.HTML)
async def privacy() -> str:
    return page("Privacy policy", "<p>What we collect, why, and for how long.</p>")


@get("/api/status")
async def api_status(request: Request[Any, Any, Any]) -> dict[str, Any]:
    consent: ConsentState = request.state.consent
    browser: BrowserInfo = request.state.browser
    return {"consent": sorted(consent.granted), "browser": browser.verdict}


litestar_app = Litestar(route_handlers=[home, privacy, api_status])


def create_app(settings: ConsentSettings | None = None) -> ConsentMiddleware:
    """The example app; settings default to ``policy.toml`` beside this file."""
    return ConsentMiddleware(litestar_app, settings=settings or ConsentSettings.from_toml(POLICY))


app = create_app()
