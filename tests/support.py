"""Test helpers: settings, a small page app, in-process clients and a real uvicorn server."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from playwright.sync_api import Browser, sync_playwright
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from consent import ConsentMiddleware, ConsentSettings

REPO = Path(__file__).resolve().parents[1]
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
OLD_FIREFOX = "Mozilla/5.0 (Windows NT 6.1; rv:10.0) Gecko/20100101 Firefox/10.0"
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
PAGE = (
    "<!doctype html><html lang='en'><head><title>t</title></head>"
    "<body><main>hi</main></body></html>"
)


def require_tool(command: str, why: str) -> str:
    """The path of an external ``command`` a test needs (a browser, a checker).

    Missing, the test is skipped with the reason, except when ``$CI`` is set: CI must run every
    test, so there the test fails. ``scripts/check.sh`` installs what it can.
    """
    found = shutil.which(command)
    if found is None:
        reason = f"{command} is not installed ({why}); scripts/check.sh installs it as root"
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (CI must run these tests)")
        pytest.skip(reason)
    return found


def screenshot_dir(tmp_path_factory: pytest.TempPathFactory, subfolder: str) -> Path:
    """Where a test saves its screenshots: ``$CONSENT_SCREENSHOTS_DIR/subfolder`` when that is
    set (to refresh the README's copies, ``scripts/screenshots.py``), else a temporary folder.
    An empty ``subfolder`` is the folder itself."""
    root = os.environ.get("CONSENT_SCREENSHOTS_DIR")
    if not root:
        return tmp_path_factory.mktemp(subfolder or "screenshots")
    folder = Path(root) / subfolder
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def chromium_path() -> str:
    """Chromium for the end-to-end tests: ``$CONSENT_CHROMIUM``, else Debian's."""
    return require_tool(
        os.environ.get("CONSENT_CHROMIUM", "/usr/bin/chromium"), "the browser tests need it"
    )


#: How the end-to-end tests start Chromium: headless, with no network of its own.
CHROMIUM_LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


@contextlib.contextmanager
def launched_chromium() -> Iterator[Browser]:
    """Chromium, driven by Playwright's sync API, closed afterwards. Use it in a module-scoped
    fixture: the sync API holds an event loop while it runs, which would stop the rest of the
    suite from calling ``asyncio.run``. Skipped when Chromium is missing, failed under ``$CI``."""
    executable = chromium_path()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_LAUNCH_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


def make_settings(**overrides: Any) -> ConsentSettings:
    # No record store and no cookie inventory unless a test asks for one: their defaults would
    # write into the working tree.
    values: dict[str, Any] = {
        "secret_keys": ["test-key-newest", "test-key-older"],
        "records_url": "none",
        "cookie_inventory": "none",
    }
    values.update(overrides)
    return ConsentSettings.load(**values)


async def page(request: Request) -> HTMLResponse:
    response = HTMLResponse(PAGE)
    response.set_cookie("session", "s1")
    response.set_cookie("_ga", "GA1.1.1")
    response.set_cookie("_ga_XYZ", "GS1.1")
    response.set_cookie("_fbp", "fb.1")
    response.set_cookie("mystery", "m")
    return response


async def state(request: Request) -> JSONResponse:
    consent = request.state.consent
    return JSONResponse(
        {
            "decided": consent.decided,
            "granted": sorted(consent.granted),
            "browser": request.state.browser.verdict,
        }
    )


def page_app(settings: ConsentSettings | None = None, **kwargs: Any) -> ConsentMiddleware:
    inner = Starlette(routes=[Route("/", page), Route("/state", state)])
    return ConsentMiddleware(inner, settings=settings or make_settings(), **kwargs)


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


def client(app: Any, **kwargs: Any) -> TestClient:
    """An in-process client: Starlette's TestClient on http://localhost."""
    return TestClient(app, base_url="http://localhost", **kwargs)


class LiveServer:
    """An ASGI app (or a ``module:attribute`` string) served by uvicorn on localhost.

    The socket is bound before the server starts, so the port is known and never raced for.
    Use it as a context manager, or call ``start()`` and ``stop()``.
    """

    def __init__(self, app: Any, *, ws: str = "auto") -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(("127.0.0.1", 0))
        self.port = int(self.socket.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        # h11 whichever parsers are installed: httptools answers 400 itself to the control
        # bytes that some tests send to reach the middleware.
        config = uvicorn.Config(
            app, http="h11", ws=ws, lifespan="off", log_level="warning", access_log=False
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True
        )

    def start(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError("uvicorn stopped before it started")
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start within 15 s")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.socket.close()
        assert not self.thread.is_alive(), "uvicorn did not stop"

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def http_scope(
    path: str = "/", method: str = "GET", headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """A minimal HTTP scope, as a server would send it (lowercase header names)."""
    raw = [
        (name.lower().encode(), value.encode("latin-1")) for name, value in (headers or {}).items()
    ]
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"localhost"), *raw],
        "server": ("localhost", 80),
        "client": ("127.0.0.1", 50000),
    }


def raw_app(
    headers: Any, chunks: list[bytes], status: int = 200, seen: list[dict[str, Any]] | None = None
) -> Any:
    """An ASGI app that answers with exactly these headers and body chunks."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if seen is not None:
            seen.append(scope)
        start: dict[str, Any] = {"type": "http.response.start", "status": status}
        if headers is not None:
            start["headers"] = headers
        await send(start)
        for index, chunk in enumerate(chunks):
            await send(
                {"type": "http.response.body", "body": chunk, "more_body": index < len(chunks) - 1}
            )

    return app


async def _call(app: Any, scope: dict[str, Any]) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    await app(scope, receive, send)
    return messages


def call(app: Any, scope: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
    """Runs one request through ``app``; the start message and the whole body."""
    messages = asyncio.run(_call(app, scope))
    start = messages[0]
    body = b"".join(m.get("body", b"") for m in messages[1:])
    return start, body


def header_values(start: dict[str, Any], name: bytes) -> list[bytes]:
    return [value for key, value in start.get("headers", []) if key.lower() == name]
