"""The app the multi-process tests serve with uvicorn: a page behind the middleware, its settings
(the record store's among them) from ``CONSENT_*`` variables.

    python -m uvicorn tests.records.server_app:app --port PORT
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from consent import ConsentMiddleware, ConsentSettings


async def home(request: Request) -> HTMLResponse:
    return HTMLResponse("<!doctype html><html><body><h1>Shop</h1></body></html>")


app = ConsentMiddleware(Starlette(routes=[Route("/", home)]), settings=ConsentSettings.load())
