"""The example site on Starlette: ``uvicorn examples.starlette_app:app`` (or ``consent demo``).

Starlette handlers read the middleware's verdicts as ``request.state.consent`` and
``request.state.browser``. The page and its cookies are in ``examples/site.py``.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route

from consent import ConsentMiddleware, ConsentSettings
from examples.site import DEMO_COOKIES, POLICY, PRIVACY, home_page, page, status


async def home(request: Request) -> HTMLResponse:
    response = HTMLResponse(home_page(request.state.consent, request.state.browser))
    for name, value, max_age in DEMO_COOKIES:
        response.set_cookie(name, value, max_age=max_age, httponly=name == "session")
    return response


async def privacy(request: Request) -> HTMLResponse:
    return HTMLResponse(page("Privacy policy", PRIVACY))


async def api_status(request: Request) -> JSONResponse:
    return JSONResponse(status(request.state.consent, request.state.browser))


def create_app(settings: ConsentSettings | None = None) -> Starlette:
    """The example app; settings default to ``examples/policy.toml``."""
    return Starlette(
        routes=[Route("/", home), Route("/privacy", privacy), Route("/api/status", api_status)],
        middleware=[
            Middleware(ConsentMiddleware, settings=settings or ConsentSettings.from_toml(POLICY))
        ],
    )


app = create_app()
