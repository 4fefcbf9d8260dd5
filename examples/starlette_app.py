"""The example site on Starlette: ``uvicorn examples.starlette_app:app``.

``/`` sets a necessary cookie (``session``), an analytics cookie (``_ga``) and a marketing
cookie (``_fbp``) on every visit; the middleware lets through only those the visitor allowed.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route

from consent import ConsentMiddleware, ConsentSettings

POLICY = Path(__file__).with_name("policy.toml")


def page(title: str, body: str) -> str:
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


async def home(request: Request) -> HTMLResponse:
    consent = request.state.consent
    browser = request.state.browser
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
<p id="browser">{escape(browser.family)} {escape(browser.version_string)}:
{escape(browser.verdict)}</p>
<p><a href="/_consent/settings?next=/" data-consent-open>Change your cookie settings</a></p>
"""
    response = HTMLResponse(page("Welcome", body))
    response.set_cookie("session", "demo-session", httponly=True, samesite="lax")
    response.set_cookie("_ga", "GA1.1.123456789.1700000000", max_age=3600 * 24 * 365)
    response.set_cookie("_fbp", "fb.1.1700000000.123456789", max_age=3600 * 24 * 90)
    return response


async def privacy(request: Request) -> HTMLResponse:
    return HTMLResponse(page("Privacy policy", "<p>What we collect, why, and for how long.</p>"))


async def api_status(request: Request) -> JSONResponse:
    return JSONResponse(
        {"consent": sorted(request.state.consent.granted), "browser": request.state.browser.verdict}
    )


def create_app(settings: ConsentSettings | None = None) -> Starlette:
    """The example app; settings default to ``policy.toml`` beside this file."""
    settings = settings or ConsentSettings.from_toml(POLICY)
    return Starlette(
        routes=[
            Route("/", home),
            Route("/privacy", privacy),
            Route("/api/status", api_status),
        ],
        middleware=[Middleware(ConsentMiddleware, settings=settings)],
    )


app = create_app()
