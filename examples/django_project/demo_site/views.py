"""Views of the example Django project: the page of ``examples/site.py``.

Django has no ``request.state``, but under ASGI its request is an ``ASGIRequest`` that keeps the
ASGI scope as ``request.scope``; the middleware's ``scope["state"]`` is read from there. (Under
WSGI, e.g. ``manage.py runserver``, there is no scope and no consent middleware.)
"""

from __future__ import annotations

from django.core.handlers.asgi import ASGIRequest
from django.http import HttpResponse, JsonResponse

from consent import BrowserInfo, ConsentState
from examples.site import DEMO_COOKIES, PRIVACY, home_page, page, status


def consent_of(request: ASGIRequest) -> ConsentState:
    """The visitor's consent, published by the middleware in ``scope["state"]``."""
    state: ConsentState = request.scope["state"]["consent"]
    return state


def browser_of(request: ASGIRequest) -> BrowserInfo:
    """The visitor's browser and its verdict."""
    info: BrowserInfo = request.scope["state"]["browser"]
    return info


async def home(request: ASGIRequest) -> HttpResponse:
    response = HttpResponse(home_page(consent_of(request), browser_of(request)))
    for name, value, max_age in DEMO_COOKIES:
        response.set_cookie(name, value, max_age=max_age, httponly=name == "session")
    return response


async def privacy(request: ASGIRequest) -> HttpResponse:
    return HttpResponse(page("Privacy policy", PRIVACY))


async def api_status(request: ASGIRequest) -> JsonResponse:
    return JsonResponse(status(consent_of(request), browser_of(request)))
