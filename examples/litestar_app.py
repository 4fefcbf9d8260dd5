"""The example site on Litestar: ``uvicorn examples.litestar_app:app``.

Litestar's ``request.state`` is built from ``scope["state"]``, so handlers read
``request.state.consent`` and ``request.state.browser``.

Litestar runs its own middleware (``DefineMiddleware``) only *after* routing, for paths that
match a route handler: the consent endpoints under ``/_consent`` would answer 404 and pages that
are not found would get no banner. So the Litestar app is wrapped instead, and ``app`` here is
the ``ConsentMiddleware`` around it (``litestar_app`` is the Litestar instance). The page and
its cookies are in ``examples/site.py``.
"""

from __future__ import annotations

from typing import Any

from litestar import Litestar, MediaType, Request, Response, get
from litestar.datastructures import Cookie

from consent import ConsentMiddleware, ConsentSettings
from examples.site import DEMO_COOKIES, POLICY, PRIVACY, home_page, page, status


@get("/", media_type=MediaType.HTML)
async def home(request: Request[Any, Any, Any]) -> Response[str]:
    cookies = [
        Cookie(key=name, value=value, max_age=max_age, httponly=name == "session")
        for name, value, max_age in DEMO_COOKIES
    ]
    html = home_page(request.state.consent, request.state.browser)
    return Response(html, media_type=MediaType.HTML, cookies=cookies)


@get("/privacy", media_type=MediaType.HTML)
async def privacy() -> str:
    return page("Privacy policy", PRIVACY)


@get("/api/status")
async def api_status(request: Request[Any, Any, Any]) -> dict[str, Any]:
    return status(request.state.consent, request.state.browser)


litestar_app = Litestar(route_handlers=[home, privacy, api_status])


def create_app(settings: ConsentSettings | None = None) -> ConsentMiddleware:
    """The example app; settings default to ``examples/policy.toml``."""
    return ConsentMiddleware(litestar_app, settings=settings or ConsentSettings.from_toml(POLICY))


app = create_app()
