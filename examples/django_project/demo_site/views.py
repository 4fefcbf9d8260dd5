"""Views of the example Django project: the same page as ``examples/starlette_app.py``.

Django has no ``request.state``, but under ASGI its request is an ``ASGIRequest`` that keeps the
ASGI scope as ``request.scope``; the middleware's ``scope["state"]`` is read from there. (Under
WSGI, e.g. ``manage.py runserver``, there is no scope and no consent middleware.)
"""

from __future__ import annotations

from html import escape

from django.core.handlers.asgi import ASGIRequest
from django.http import HttpResponse, JsonResponse

from consent.browsers import BrowserInfo
from consent.cookies import ConsentState


def consent_of(request: ASGIRequest) -> ConsentState:
    """The visitor's consent, published by the middleware in ``scope["state"]``."""
    state: ConsentState = request.scope["state"]["consent"]
    return state


def browser_of(request: ASGIRequest) -> BrowserInfo:
    """The visitor's browser and its verdict."""
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


async def home(request: ASGIRequest) -> HttpResponse:
    consent = consent_of(request)
    browser = browser_of(request)
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
    response = HttpResponse(page("Welcome", body))
    response.set_cookie("session", "demo-session", httponly=True, samesite="Lax")
    response.set_cookie("_ga", "GA1.1.123456789.1700000000", max_age=3600 * 24 * 365)
    response.set_cookie("_fbp", "fb.1.1700000000.123456789", max_age=3600 * 24 * 90)
    return response


async def privacy(request: ASGIRequest) -> HttpResponse:
    return HttpResponse(page("Privacy policy", "<p>What we collect, why, and for how long.</p>"))


async def api_status(request: ASGIRequest) -> JsonResponse:
    return JsonResponse(
        {"consent": sorted(consent_of(request).granted), "browser": browser_of(request).verdict}
    )
