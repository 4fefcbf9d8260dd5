"""The example site on FastAPI: ``uvicorn examples.fastapi_app:app``.

FastAPI's ``Request`` is Starlette's, so handlers can read ``request.state.consent`` and
``request.state.browser``; here two small dependencies hand them over as typed parameters.
The page and its cookies are in ``examples/site.py``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse

from consent import BrowserInfo, ConsentMiddleware, ConsentSettings, ConsentState
from examples.site import DEMO_COOKIES, POLICY, PRIVACY, home_page, page, status


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


def create_app(settings: ConsentSettings | None = None) -> FastAPI:
    """The example app; settings default to ``examples/policy.toml``."""
    app = FastAPI(title="asgi-consent demo", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/", response_class=HTMLResponse)
    async def home(consent: Consent, browser: Browser) -> HTMLResponse:
        response = HTMLResponse(home_page(consent, browser))
        for name, value, max_age in DEMO_COOKIES:
            response.set_cookie(name, value, max_age=max_age, httponly=name == "session")
        return response

    @app.get("/privacy", response_class=HTMLResponse)
    async def privacy() -> HTMLResponse:
        return HTMLResponse(page("Privacy policy", PRIVACY))

    @app.get("/api/status")
    async def api_status(consent: Consent, browser: Browser) -> dict[str, Any]:
        return status(consent, browser)

    # Pure ASGI: the middleware sees every request, its own /_consent endpoints included,
    # before FastAPI routes it.
    app.add_middleware(ConsentMiddleware, settings=settings or ConsentSettings.from_toml(POLICY))
    return app


app = create_app()
