"""The example site on Quart: ``uvicorn examples.quart_app:app``.

Quart has no ``request.state``: its request keeps the ASGI scope as ``request.scope``, so
handlers read ``request.scope["state"]["consent"]`` and ``request.scope["state"]["browser"]``
(the two helpers below). The middleware wraps ``app.asgi_app``, Quart's documented place for
ASGI middleware, so ``app`` stays the Quart instance (its CLI and test client keep working).
The page and its cookies are in ``examples/site.py``.
"""

from __future__ import annotations

from typing import Any

from quart import Quart, Response, request

from consent import BrowserInfo, ConsentMiddleware, ConsentSettings, ConsentState
from examples.site import DEMO_COOKIES, POLICY, PRIVACY, home_page, page, status


def current_consent() -> ConsentState:
    """The current visitor's consent, published by the middleware in ``scope["state"]``."""
    state: ConsentState = request.scope["state"]["consent"]
    return state


def current_browser() -> BrowserInfo:
    """The current visitor's browser and its verdict."""
    info: BrowserInfo = request.scope["state"]["browser"]
    return info


def create_app(settings: ConsentSettings | None = None) -> Quart:
    """The example app; settings default to ``examples/policy.toml``."""
    app = Quart(__name__)

    @app.get("/")
    async def home() -> Response:
        response = Response(home_page(current_consent(), current_browser()), mimetype="text/html")
        for name, value, max_age in DEMO_COOKIES:
            response.set_cookie(name, value, max_age=max_age, httponly=name == "session")
        return response

    @app.get("/privacy")
    async def privacy() -> str:
        return page("Privacy policy", PRIVACY)

    @app.get("/api/status")
    async def api_status() -> dict[str, Any]:
        return status(current_consent(), current_browser())

    # Quart types asgi_app as a method; replacing it is how Quart documents ASGI middleware.
    middleware = ConsentMiddleware(
        app.asgi_app, settings=settings or ConsentSettings.from_toml(POLICY)
    )
    app.asgi_app = middleware  # type: ignore[method-assign,assignment]
    return app


app = create_app()
