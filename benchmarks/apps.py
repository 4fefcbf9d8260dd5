"""The applications and requests the benchmarks share.

``bare_app`` is a plain Starlette app with an HTML page (``/``, about 3 KB) and a small JSON
response (``/api``, and ``/api/traced`` with a request id); ``consent_app`` is the same wrapped
in ``ConsentMiddleware`` with the benchmark settings (a fixed secret key, no record store,
defaults otherwise). ``bench_uvicorn.py`` serves these with ``python -m uvicorn
benchmarks.apps:bare_app`` (run from the repository root); ``bench_asgi.py`` and
``bench_memory.py`` call them directly, with the scopes and ``receive`` and ``send`` callables
below.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from http.cookies import SimpleCookie
from typing import Any

from starlette.applications import Starlette
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from consent import ConsentMiddleware, ConsentSettings

#: A fixed key, so that cookies made by one process verify in another (benchmark use only).
BENCH_SECRET_KEY = "benchmark-secret-key-not-for-production"
SESSION_SECRET_KEY = "benchmark-session-key-not-for-production"

CHROME_VERSION = "120.0.6099.129"
CHROME_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    f"Chrome/{CHROME_VERSION} Safari/537.36"
)
CHROME_HINTS = '"Not_A Brand";v="8", "Chromium";v="120", "Google Chrome";v="120"'
#: Analytics cookies a returning visitor carries besides the session and consent cookies.
GA_COOKIE = "_ga=GA1.1.1425357519.1717171717; _ga_XYZ123=GS1.1.1717171717.4.1.1717172000.0.0.0"


def request_headers(
    user_agent: str, cookie: str | None, hints: str | None = CHROME_HINTS, host: str = "localhost"
) -> list[tuple[str, str]]:
    """The headers a desktop Chrome sends for a page (lowercase names, in Chrome's order)."""
    headers: list[tuple[str, str]] = [("host", host), ("connection", "keep-alive")]
    if hints is not None:
        headers += [
            ("sec-ch-ua", hints),
            ("sec-ch-ua-mobile", "?0"),
            ("sec-ch-ua-platform", '"Windows"'),
        ]
    headers += [
        ("upgrade-insecure-requests", "1"),
        ("user-agent", user_agent),
        (
            "accept",
            "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
            "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7",
        ),
        ("sec-fetch-site", "same-origin"),
        ("sec-fetch-mode", "navigate"),
        ("sec-fetch-user", "?1"),
        ("sec-fetch-dest", "document"),
        ("referer", f"http://{host}/shop"),
        ("accept-encoding", "gzip, deflate, br, zstd"),
        ("accept-language", "en-GB,en-US;q=0.9,en;q=0.8,fr;q=0.7"),
    ]
    if cookie:
        headers.append(("cookie", cookie))
    return headers


ASGI = {"version": "3.0", "spec_version": "2.3"}  # what uvicorn's h11 protocol sends


def browser_headers(
    user_agent: str, cookie: str | None, hints: str | None = CHROME_HINTS
) -> list[tuple[bytes, bytes]]:
    """The headers a desktop Chrome sends for a page, as uvicorn hands them over."""
    return [
        (name.encode("latin-1"), value.encode("latin-1"))
        for name, value in request_headers(user_agent, cookie, hints)
    ]


def http_scope(
    path: str, headers: list[tuple[bytes, bytes]], method: str = "GET", query: bytes = b""
) -> dict[str, Any]:
    """An HTTP scope as uvicorn builds it, from 127.0.0.1 to port 8000."""
    return {
        "type": "http",
        "asgi": dict(ASGI),
        "http_version": "1.1",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 51234),
        "scheme": "http",
        "method": method,
        "root_path": "",
        "path": path,
        "raw_path": path.encode("latin-1"),
        "query_string": query,
        "headers": headers,
        "state": {},
    }


def page_scope(
    user_agent: str, cookie: str | None, hints: str | None = CHROME_HINTS
) -> dict[str, Any]:
    """A ``GET /`` scope with the headers a desktop Chrome sends, new ``bytes`` each time."""
    return http_scope("/", browser_headers(user_agent, cookie, hints))


def receiver(body: bytes = b"") -> Callable[[], Awaitable[dict[str, Any]]]:
    """A ``receive`` that gives the request's body, then waits for a disconnect that never comes
    (a server cancels it once the response is sent)."""
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()
        return {"type": "http.disconnect"}

    return receive


_REQUEST = {"type": "http.request", "body": b"", "more_body": False}


async def receive_request() -> dict[str, Any]:
    """The cheapest ``receive`` for timed loops: an empty body, every time."""
    return _REQUEST


async def discard(message: MutableMapping[str, Any]) -> None:
    """A ``send`` that keeps nothing."""
    return None


_PLATFORMS = (
    "Windows NT 10.0; Win64; x64",
    "Macintosh; Intel Mac OS X 10_15_7",
    "X11; Linux x86_64",
    "Linux; Android 10; K",
)


class GeneratedAgents:
    """Distinct, realistic Chrome User-Agents (and matching client hints), never repeating
    within one instance (``start`` sets where the sequence begins)."""

    def __init__(self, start: int = 0) -> None:
        self.count = start

    def next(self) -> tuple[str, str]:
        i = self.count
        self.count += 1
        major = 100 + i % 31
        build = 4000 + (i // 31) % 3000
        patch = i // (31 * 3000)
        platform = _PLATFORMS[i % len(_PLATFORMS)]
        mobile = " Mobile" if platform.startswith("Linux; Android") else ""
        agent = (
            f"Mozilla/5.0 ({platform}) AppleWebKit/537.36 (KHTML, like Gecko) "
            f"Chrome/{major}.0.{build}.{patch}{mobile} Safari/537.36"
        )
        hints = f'"Not_A Brand";v="8", "Chromium";v="{major}", "Google Chrome";v="{major}"'
        return agent, hints


_PARAGRAPH = (
    "<p>Our shop ships hand-made ceramics from a small workshop by the sea. Every piece is thrown, "
    "trimmed and glazed by hand, so no two cups are quite alike. Orders placed before noon leave "
    "the same day, wrapped in recycled paper.</p>\n"
)

#: A realistic page of about 3 KB: a head with metadata, a stylesheet and an inline script,
#: then a body with navigation, an article and a footer.
PAGE_HTML = (
    "<!DOCTYPE html>\n"
    '<html lang="en">\n<head>\n'
    '<meta charset="utf-8">\n'
    '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
    "<title>Hand-made ceramics | Harbour Pottery</title>\n"
    '<meta name="description" content="Hand-made cups, bowls and plates from the seaside.">\n'
    '<link rel="stylesheet" href="/static/site.css?v=3f2a9c">\n'
    '<link rel="icon" href="/favicon.ico">\n'
    "<script>window.dataLayer = window.dataLayer || []; "
    "function track(e) { window.dataLayer.push(e); }</script>\n"
    "</head>\n"
    '<body class="page page-home">\n'
    '<header class="site-header"><a class="logo" href="/">Harbour Pottery</a>\n'
    '<nav><ul><li><a href="/shop">Shop</a></li><li><a href="/about">About</a></li>'
    '<li><a href="/journal">Journal</a></li><li><a href="/contact">Contact</a></li></ul></nav>\n'
    "</header>\n"
    '<main id="content">\n<article>\n<h1>New glazes for the winter collection</h1>\n'
    + _PARAGRAPH
    * 8
    + '<figure><img src="/media/bowls.jpg" alt="Three blue bowls" width="800" height="533">'
    "<figcaption>The new tidewater glaze.</figcaption></figure>\n"
    "</article>\n</main>\n"
    '<footer class="site-footer"><p>&copy; Harbour Pottery. <a href="/privacy">Privacy</a> · '
    '<a href="/terms">Terms</a></p></footer>\n'
    '<script src="/static/site.js?v=3f2a9c" defer></script>\n'
    "</body>\n</html>\n"
)

JSON_DATA: dict[str, Any] = {
    "id": 4211,
    "name": "Tidewater bowl",
    "price": {"amount": 3400, "currency": "EUR"},
    "tags": ["ceramics", "bowl", "hand-made"],
    "in_stock": True,
}


async def page(request: Request) -> Response:
    return HTMLResponse(PAGE_HTML)


async def api(request: Request) -> Response:
    return JSONResponse(JSON_DATA)


async def traced(request: Request) -> Response:
    """The JSON of ``/api`` with the request's ``X-Request-ID`` echoed, as many APIs send it: a
    start message that differs from every other."""
    request_id = request.headers.get("x-request-id", "none")
    return JSONResponse(JSON_DATA, headers={"x-request-id": request_id})


async def login(request: Request) -> Response:
    """Sets a session value (used once, to obtain a valid SessionMiddleware cookie)."""
    request.session["user"] = {"id": 4211, "name": "ada"}
    return JSONResponse({"ok": True})


async def stream(request: Request) -> Response:
    """An HTML page of ``?mb=N`` megabytes (default 50), generated in 64 KB chunks.

    ``?body=0`` leaves out the ``<body>`` tag (the injector then scans the whole page).
    """
    size = int(float(request.query_params.get("mb", "50")) * 1024 * 1024)
    body_tag = request.query_params.get("body", "1") != "0"
    return StreamingResponse(
        html_chunks(size, body_tag=body_tag), media_type="text/html; charset=utf-8"
    )


CHUNK_SIZE = 64 * 1024


async def html_chunks(
    total: int, chunk_size: int = CHUNK_SIZE, *, body_tag: bool = True
) -> AsyncIterator[bytes]:
    """A ``total``-byte HTML document, made chunk by chunk (nothing is kept between chunks)."""
    head = (
        b'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Big</title>'
        b"</head>\n" + (b"<body>\n" if body_tag else b"")
    )
    tail = b"</body></html>\n" if body_tag else b"</html>\n"
    sent = 0
    index = 0
    while sent < total:
        room = min(chunk_size, total - sent)
        prefix = head if index == 0 else b""
        row = b"<p>Row %d of a long table of pottery orders.</p>\n" % index
        body = prefix + row * ((room - len(prefix)) // len(row) + 1)
        chunk = body[:room]
        if sent + room >= total and room > len(tail):
            chunk = chunk[: room - len(tail)] + tail
        sent += len(chunk)
        index += 1
        yield chunk


ROUTES = [
    Route("/", page),
    Route("/api", api),
    Route("/api/traced", traced),
    Route("/login", login),
    Route("/stream", stream),
]


def make_settings(**overrides: Any) -> ConsentSettings:
    """The benchmark's consent settings: a fixed key, no record store (``bench_records.py``
    measures that) and no cookie inventory (its cost is in ``CHANGELOG.md``; it would write a
    file into the working directory), the defaults otherwise."""
    values: dict[str, Any] = {
        "secret_keys": [BENCH_SECRET_KEY],
        "records_url": "none",
        "cookie_inventory": "none",
    }
    values.update(overrides)
    return ConsentSettings.load(**values)


def make_bare_app() -> Starlette:
    return Starlette(routes=ROUTES)


def make_consent_app(inner: Any | None = None) -> ConsentMiddleware:
    return ConsentMiddleware(
        inner if inner is not None else make_bare_app(), settings=make_settings()
    )


def make_session_app(inner: Any | None = None) -> SessionMiddleware:
    return SessionMiddleware(
        inner if inner is not None else make_bare_app(), secret_key=SESSION_SECRET_KEY
    )


class NoopMiddleware:
    """A pure-ASGI middleware that does nothing but wrap ``send``: the floor for any middleware."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        async def send_wrapper(message: Any) -> None:
            await send(message)

        await self.app(scope, receive, send_wrapper)


#: About what ConsentMiddleware injects for a decided visitor with the default settings.
FLOOR_SNIPPET = b'<aside class="floor" hidden>' + b"." * 512 + b"</aside>\n"
_FLOOR_VARY = (
    b"vary",
    b"Cookie, User-Agent, Accept-Language, Sec-CH-UA, Sec-CH-UA-Full-Version-List, Sec-GPC",
)
_MAX_FLOOR_ENTRIES = 4096


class FloorMiddleware:
    """The least work of ConsentMiddleware's job for a returning visitor, as a yardstick.

    It reads the six request headers a visitor is judged by, looks the visitor's snippet up by
    their values, plans each start message once per status and headers (HTML or not, its
    length), adds the same Vary and splices the snippet after ``<body …>``. It does nothing else:
    no consent cookie, no browser verdict, no cookie enforcement, no request state, no HEAD,
    streaming or charset cases. Whatever a consent middleware adds beyond it is the price of
    those; what it costs itself, no such middleware can avoid.
    """

    def __init__(self, app: Any, snippet: bytes = FLOOR_SNIPPET) -> None:
        self.app = app
        self.snippet = snippet
        self.visitors: dict[tuple[bytes, ...], bytes] = {}
        self.plans: dict[tuple[Any, ...], tuple[int, list[tuple[bytes, bytes]]] | None] = {}

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        get = dict(scope["headers"]).get
        key = (
            get(b"cookie", b""),
            get(b"user-agent", b""),
            get(b"accept-language", b""),
            get(b"sec-gpc", b""),
            get(b"sec-ch-ua-full-version-list", b""),
            get(b"sec-ch-ua", b""),
        )
        snippet = self.visitors.get(key)
        if snippet is None:
            if len(self.visitors) >= _MAX_FLOOR_ENTRIES:
                self.visitors.clear()
            snippet = self.visitors[key] = self.snippet
        plans = self.plans
        page = False

        async def send_wrapper(message: Any) -> None:
            nonlocal page
            if message["type"] == "http.response.start":
                headers = message.get("headers", ())
                plan_key = (message["status"], *headers)
                try:
                    plan = plans[plan_key]
                except KeyError:
                    if len(plans) >= _MAX_FLOOR_ENTRIES:
                        plans.clear()
                    plan = plans[plan_key] = _floor_plan(headers)
                if plan is not None:
                    page = True
                    length, kept = plan
                    length_header = (b"content-length", b"%d" % (length + len(snippet)))
                    message = {**message, "headers": [*kept, length_header, _FLOOR_VARY]}
            elif page and message["type"] == "http.response.body":
                body = message.get("body", b"")
                at = body.find(b">", body.find(b"<body")) + 1
                message = {**message, "body": b"".join((body[:at], snippet, body[at:]))}
            await send(message)

        await self.app(scope, receive, send_wrapper)


def _floor_plan(headers: Any) -> tuple[int, list[tuple[bytes, bytes]]] | None:
    """An HTML page's length and its headers but Content-Length; None for anything else."""
    values = dict(headers)
    if not values.get(b"content-type", b"").startswith(b"text/html"):
        return None
    kept = [(name, value) for name, value in headers if name != b"content-length"]
    return int(values[b"content-length"]), kept


def cookie_value(set_cookie: str, name: str) -> str:
    """The value of cookie ``name`` in a ``Set-Cookie`` header, as a browser would send it back."""
    jar: SimpleCookie = SimpleCookie()
    jar.load(set_cookie)
    if name not in jar:
        raise ValueError(f"no {name!r} cookie in {set_cookie!r}")
    return jar[name].coded_value


def signed_consent_cookie(
    settings: ConsentSettings | None = None, *, accept_all: bool = True
) -> str:
    """A valid consent cookie value made offline with the benchmark key (for load generators)."""
    from consent.choice.codec import ConsentCodec

    settings = settings or make_settings()
    codec = ConsentCodec(settings)
    optional = frozenset(n for n, c in settings.categories.items() if not c.required)
    _, value = codec.decide(optional if accept_all else frozenset(), "banner")
    return value


# The apps uvicorn serves (``python -m uvicorn benchmarks.apps:bare_app`` from the repo root).
bare_app = make_bare_app()
noop_app = NoopMiddleware(make_bare_app())
floor_app = FloorMiddleware(make_bare_app())
consent_app = make_consent_app(make_bare_app())
