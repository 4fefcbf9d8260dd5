"""The example site on FastAPI: ``uvicorn examples.fastapi_app:app``.

The same page as ``starlette_app.py``. ``/`` sets a necessary cookie (``session``), an analytics
cookie (``_ga``) and a marketing cookie (``_fbp``) on every visit; the middleware lets through
only those the visitor allowed. FastAPI's ``Request`` is Starlette's, so handlers read
``request.state.consent`` and ``request.state.browser``; here two small dependencies hand them to
the handlers as typed parameters.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse

from consent import ConsentMiddleware, ConsentSettings
from consent.browsers import BrowserInfo
from consent.cookies import ConsentState

POLICY = Path(__file__).with_name("policy.toml")


def consent_state(request: Request) -> ConsentState:
    """The visitor's consent, published by the middleware before the app runs."""
    state: ConsentState = request.state.consent
    return state


def browser_info(request: Request) -> BrowserInfo:
    """The visitor's browser and its verdict."""
    info: BrowserInfo = request.state.browser
    return info


Consent = Annotated[ConsentState, Depends(consent_state)]
Browser = Annotated[BrowserInfo, Depends(browser_info)]


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


def home_body(consent: ConsentState, browser: BrowserInfo) -> str:
    """What the visitor decided and which browser they use."""
    browser_line = f"{browser.family} {browser.version_string}: {browser.verdict}"
    rows = "".join(
        f"<li>{escape(name)}: {'allowed' if consent.allows(name) else 'refused'}</li>"
        for name in ("necessary", "analytics", "marketing")
    )
    return f"""
<p>This page sets a <code>session</code>, an <code>_ga</code> and an <code>_fbp</code> cookie.
Only the categories you allowed reach your browser.</p>
<h2>Your consent</h2>
<p id="decided">Decided: {"yes" if consent.decided else "no"}</p>
<ul id="categories">{rows}</ul>
<h2>Your browser</h2>
<p id="browser">{escape(browser_line)}</p>
<p><a href="/_consent/settings?next=/" data-consent-open>Change your cookie settings</a></p>
"""


def create_app(settings: ConsentSettings | None = None) -> FastAPI:
    """The example app; settings default to ``policy.toml`` beside this file."""
    settings = settings or ConsentSettings.from_toml(POLICY)
    app = FastAPI(title="asgi-consent demo", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/", response_class=HTMLResponse)
    async def home(consent: Consent, browser: Browser) -> HTMLResponse:
        response = HTMLResponse(page("Welcome", home_body(consent, browser)))
        response.set_cookie("session", "demo-session", httponly=True, samesite="lax")
        response.set_cookie("_ga", "GA1.1.123456789.1700000000", max_age=3600 * 24 * 365)
        response.set_cookie("_fbp", "fb.1.1700000000.123456789", max_age=3600 * 24 * 90)
        return response

    @app.get("/privacy", response_class=HTMLResponse)
    async def privacy() -> HTMLResponse:
        return HTMLResponse(
            page("Privacy policy", "<p>What we collect, why, and for how long.</p>")
        )

    @app.get("/api/status")
    async def api_status(consent: Consent, browser: Browser) -> dict[str, object]:
        return {"consent": sorted(consent.granted), "browser": browser.verdict}

    # Pure ASGI: the middleware sees every request, including its own /_consent endpoints,
    # before FastAPI routes it.
    app.add_middleware(ConsentMiddleware, settings=settings)
    return app


app = create_app()
