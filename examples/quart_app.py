"""The example site on Quart: ``uvicorn examples.quart_app:app``.

The same page as ``starlette_app.py``. ``/`` sets a necessary cookie (``session``), an analytics
cookie (``_ga``) and a marketing cookie (``_fbp``) on every visit; the middleware lets through
only those the visitor allowed.

Quart has no ``request.state``: its request keeps the ASGI scope as ``request.scope``, so
handlers read ``request.scope["state"]["consent"]`` and ``request.scope["state"]["browser"]``
(the two helpers below). The middleware wraps ``app.asgi_app``, Quart's documented place for
ASGI middleware, so ``app`` stays the Quart instance (its CLI and test client keep working).
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

from quart import Quart, Response, request

from consent import ConsentMiddleware, ConsentSettings
from consent.browsers import BrowserInfo
from consent.cookies import ConsentState

POLICY = Path(__file__).with_name("policy.toml")


def current_consent() -> ConsentState:
    """The current visitor's consent, published by the middleware in ``scope["state"]``."""
    state: ConsentState = request.scope["state"]["consent"]
    return state


def current_browser() -> BrowserInfo:
    """The current visitor's browser and its verdict."""
    info: BrowserInfo = request.scope["state"]["browser"]
    return info


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


def create_app(settings: ConsentSettings | None = None) -> Quart:
    """The example app; settings default to ``policy.toml`` beside this file."""
    settings = settings or ConsentSettings.from_toml(POLICY)
    app = Quart(__name__)

    @app.get("/")
    async def home() -> Response:
        consent = current_consent()
        browser = current_browser()
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
        response = Response(page("Welcome", body), mimetype="text/html")
        response.set_cookie("session", "demo-session", httponly=True, samesite="Lax")
        response.set_cookie("_ga", "GA1.1.123456789.1700000000", max_age=3600 * 24 * 365)
        response.set_cookie("_fbp", "fb.1.1700000000.123456789", max_age=3600 * 24 * 90)
        return response

    @app.get("/privacy")
    async def privacy() -> str:
        return page("Privacy policy", "<p>What we collect, why, and for how long.</p>")

    @app.get("/api/status")
    async def api_status() -> dict[str, Any]:
        return {"consent": sorted(current_consent().granted), "browser": current_browser().verdict}

    # Quart types asgi_app as a method; replacing it is how Quart documents ASGI middleware.
    app.asgi_app = ConsentMiddleware(app.asgi_app, settings=settings)  # type: ignore[method-assign,assignment]
    return app


app = create_app()
