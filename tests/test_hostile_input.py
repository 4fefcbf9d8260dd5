"""Hostile input: bounded memory, clear answers, nothing raised and no traceback logged.

Each cache the middleware keeps is keyed by something a client can choose (a path, a cookie, a
header). These tests send a few hundred requests whose chosen part is large and new each time, and
bound what the process keeps afterwards with tracemalloc. The endpoints' tests send bodies that
used to raise (deep JSON, a client that leaves mid-body) and check the answer and the logs.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import socket
import time
import tracemalloc
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consent import ConsentMiddleware
from tests.support import (
    CHROME,
    LiveServer,
    call,
    client,
    http_scope,
    make_settings,
    page_app,
    raw_app,
)

#: What a few hundred hostile requests may leave behind, all caches together.
RETAINED_LIMIT = 3 * 1024 * 1024
REQUESTS = 300
LARGE = 100 * 1024
PAGE = b"<!doctype html><html><head><title>t</title></head><body><p>hi</p></body></html>"
HTML = [(b"content-type", b"text/html; charset=utf-8")]


def unique(number: int, size: int, fill: bytes = b"a") -> bytes:
    stamp = b"%d-" % number
    return stamp + fill * (size - len(stamp))


def hostile_scopes(lever: str) -> Callable[[int], dict[str, Any]]:
    """Scopes whose ``lever`` is large and new each time."""

    def scope(number: int) -> dict[str, Any]:
        request = http_scope("/page", headers={"user-agent": CHROME})
        headers = request["headers"]
        if lever == "query string":
            request["query_string"] = unique(number, LARGE, b"&")
        elif lever == "path":
            path = "/" + unique(number, LARGE).decode()
            request["path"], request["raw_path"] = path, path.encode()
        elif lever == "consent cookie":
            headers.append((b"cookie", b"consent=" + unique(number, 10 * LARGE)))
        elif lever == "notice cookie":
            headers.append((b"cookie", b"consent_browser_notice=" + unique(number, LARGE)))
        elif lever == "other cookies":
            headers.append((b"cookie", b"x=" + unique(number, LARGE)))
        elif lever == "user-agent":
            request["headers"] = [h for h in headers if h[0] != b"user-agent"]
            request["headers"].append((b"user-agent", b"Mozilla/5.0 " + unique(number, LARGE)))
        elif lever == "accept-language":
            headers.append((b"accept-language", b"fr;q=0.5, " + unique(number, LARGE, b"x")))
        elif lever == "client hints":
            hints = b'"Chromium";v="120", "Brand";v="' + unique(number, LARGE, b"9") + b'"'
            headers.append((b"sec-ch-ua-full-version-list", hints))
        elif lever == "csp nonce":
            request["state"] = {"csp_nonce": unique(number, LARGE).decode()}
        else:
            raise AssertionError(lever)
        return request

    return scope


async def drive(app: Any, scopes: Callable[[int], dict[str, Any]], count: int) -> None:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        pass

    for number in range(count):
        await app(scopes(number), receive, send)


def retained_after(app: Any, scopes: Callable[[int], dict[str, Any]]) -> int:
    """Bytes still allocated after ``REQUESTS`` requests, over a warm-up of a few."""
    asyncio.run(drive(app, scopes, 3))
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        asyncio.run(drive(app, lambda n: scopes(n + 10), REQUESTS))
        gc.collect()
        return tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize(
    "lever",
    [
        "query string",
        "path",
        "consent cookie",
        "notice cookie",
        "other cookies",
        "user-agent",
        "accept-language",
        "client hints",
        "csp nonce",
    ],
)
def test_large_unique_values_do_not_grow_memory(lever: str) -> None:
    app = ConsentMiddleware(raw_app(HTML, [PAGE]), settings=make_settings())
    retained = retained_after(app, hostile_scopes(lever))
    assert retained < RETAINED_LIMIT, f"{lever}: {retained / 1e6:.1f} MB kept"


def test_large_unique_cookie_names_on_a_decision_do_not_grow_memory() -> None:
    """A decision expires the refused cookies the request carries: their names are the
    client's, so the category lookups they go through must not keep them."""
    settings = make_settings(undeclared_cookies="block")
    app = ConsentMiddleware(raw_app(HTML, [PAGE]), settings=settings)
    body = b"action=reject_all&next=%2F"

    def scope(number: int) -> dict[str, Any]:
        request = http_scope(
            "/_consent",
            method="POST",
            headers={
                "content-type": "application/x-www-form-urlencoded",
                "content-length": str(len(body)),
            },
        )
        request["headers"].append((b"cookie", unique(number, LARGE, b"n") + b"=1"))
        return request

    async def run() -> None:
        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: Any) -> None:
            pass

        for number in range(REQUESTS):
            await app(scope(number + 10), receive, send)

    asyncio.run(drive(app, scope, 1))
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        asyncio.run(run())
        gc.collect()
        retained = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert retained < RETAINED_LIMIT, f"{retained / 1e6:.1f} MB kept"


def test_a_long_page_address_is_not_echoed_into_the_forms() -> None:
    """The forms' ``next`` is refused past MAX_NEXT anyway, so a longer address is not copied
    into the page (a 100 KB query would otherwise come back several times over)."""
    app = ConsentMiddleware(raw_app(HTML, [PAGE]), settings=make_settings())
    scope = http_scope("/page", headers={"user-agent": CHROME})
    scope["query_string"] = b"&" * LARGE
    start, body = call(app, scope)
    assert start["status"] == 200
    assert len(body) < 20_000
    assert b'name="next" value="/page"' in body


# Endpoints: clear answers, nothing raised ---------------------------------------------------

SAME_ORIGIN = {"origin": "http://localhost", "user-agent": CHROME}


def test_deeply_nested_json_is_a_400_with_a_reason() -> None:
    body = "[" * 1000 + "]" * 1000
    with client(page_app()) as browser:
        response = browser.post(
            "/_consent",
            content=body,
            headers={**SAME_ORIGIN, "content-type": "application/json"},
        )
    assert response.status_code == 400
    assert response.json() == {"error": "the JSON body is nested too deeply"}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)


@given(
    body=st.one_of(
        st.binary(max_size=300),
        json_values.map(lambda value: json.dumps(value).encode()),
        st.dictionaries(
            st.sampled_from(["action", "categories", "source", "x"]), json_values, max_size=4
        ).map(lambda value: json.dumps(value).encode()),
        st.text(max_size=200).map(str.encode),
    ),
    content_type=st.sampled_from(
        ["application/json", "application/x-www-form-urlencoded", "text/plain", ""]
    ),
    route=st.sampled_from(["/_consent", "/_consent/browser-notice"]),
)
def test_any_body_gets_an_answer_never_an_error(body: bytes, content_type: str, route: str) -> None:
    with client(page_app(), follow_redirects=False) as browser:
        response = browser.post(
            route, content=body, headers={**SAME_ORIGIN, "content-type": content_type}
        )
    assert response.status_code in (200, 303, 400)
    if response.status_code == 400:
        assert response.text.strip()


def disconnecting_receive(body: bytes) -> Callable[[], Any]:
    """A receive that gives part of a body, then says the client went away."""
    messages: list[dict[str, Any]] = [
        {"type": "http.request", "body": body, "more_body": True},
        {"type": "http.disconnect"},
    ]

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if len(messages) > 1 else messages[0]

    return receive


@pytest.mark.parametrize("route", ["/_consent", "/_consent/browser-notice"])
def test_a_client_that_leaves_mid_body_gets_nothing_and_logs_nothing(
    route: str, caplog: pytest.LogCaptureFixture
) -> None:
    app = page_app()
    scope = http_scope(
        route,
        method="POST",
        headers={"content-type": "application/json", "content-length": "100", **SAME_ORIGIN},
    )
    sent: list[dict[str, Any]] = []

    async def send(message: Any) -> None:
        sent.append(message)

    caplog.set_level(logging.DEBUG)
    asyncio.run(app(scope, disconnecting_receive(b'{"action": '), send))
    assert sent == []
    assert [r for r in caplog.records if r.levelno > logging.DEBUG] == []


def test_a_client_that_leaves_mid_body_leaves_no_traceback_in_uvicorn() -> None:
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep(level=logging.INFO)
    loggers = [logging.getLogger(name) for name in ("uvicorn.error", "uvicorn", "consent")]
    with LiveServer(page_app()) as server:
        for logger in loggers:  # after uvicorn has configured its loggers
            logger.addHandler(handler)
        try:
            for _ in range(3):
                with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
                    sock.sendall(
                        b"POST /_consent HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                        b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
                        b'{"action": '
                    )
            # One full request after them: the server is still well, and has handled the others.
            time.sleep(0.2)
            with urllib.request.urlopen(server.url + "/_consent", timeout=5) as answer:
                assert answer.status == 200
        finally:
            for logger in loggers:
                logger.removeHandler(handler)
    assert [r for r in records if r.levelno >= logging.WARNING or r.exc_info] == []


# Same origin: scheme, host and port ---------------------------------------------------------


@pytest.mark.parametrize(
    ("base_url", "origin", "status"),
    [
        ("https://example.com", "https://example.com", 303),
        ("https://example.com", "http://example.com", 403),
        ("http://example.com", "https://example.com", 403),
        ("https://example.com", "https://example.com:443", 303),
        ("https://example.com", "https://example.com:8443", 403),
    ],
)
def test_origin_must_match_scheme_as_well_as_host(base_url: str, origin: str, status: int) -> None:
    with client(page_app(), follow_redirects=False) as browser:
        browser.base_url = base_url
        response = browser.post(
            "/_consent", data={"action": "reject_all"}, headers={"origin": origin}
        )
    assert response.status_code == status
