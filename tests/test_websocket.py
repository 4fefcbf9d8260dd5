"""WebSocket handshakes: refused cookies are stripped from every answer that carries headers.

A handshake is answered either by ``websocket.accept`` or, with the ``websocket.http.response``
extension, by an HTTP response that denies it (``websocket.http.response.start``). Both may set
cookies, so both are filtered; headers given as any iterable pass through intact.
"""

from __future__ import annotations

import base64
import os
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

from consent import ConsentMiddleware
from tests.support import LiveServer, client, make_settings

APP_COOKIES = [(b"set-cookie", b"_ga=GA1.1.1; Path=/"), (b"set-cookie", b"session=s1; Path=/")]


def socket_app(answer: str, headers: Any = None) -> ConsentMiddleware:
    async def endpoint(websocket: WebSocket) -> None:
        if answer == "deny":
            response = PlainTextResponse("no", status_code=403)
            response.raw_headers.extend(APP_COOKIES)
            await websocket.send_denial_response(response)
            return
        await websocket.accept(headers=headers() if callable(headers) else headers)
        await websocket.send_json({"decided": websocket.scope["state"]["consent"].decided})
        await websocket.close()

    return ConsentMiddleware(
        Starlette(routes=[WebSocketRoute("/ws", endpoint)]), settings=make_settings()
    )


def test_accept_headers_from_a_generator_pass_whole_when_nothing_is_refused() -> None:
    def headers() -> Iterator[tuple[bytes, bytes]]:
        yield (b"x-trace", b"1")
        yield (b"set-cookie", b"session=s1")

    with client(socket_app("accept", headers)) as browser, browser.websocket_connect("/ws") as ws:
        assert ws.receive_json() == {"decided": False}
        assert ws.extra_headers == [(b"x-trace", b"1"), (b"set-cookie", b"session=s1")]


def test_accept_headers_from_a_generator_lose_only_the_refused_cookie() -> None:
    def headers() -> Iterator[tuple[bytes, bytes]]:
        yield from APP_COOKIES

    with client(socket_app("accept", headers)) as browser, browser.websocket_connect("/ws") as ws:
        assert ws.receive_json() == {"decided": False}
        assert ws.extra_headers == [(b"set-cookie", b"session=s1; Path=/")]


def handshake(port: int) -> tuple[int, list[tuple[str, str]]]:
    """Opens a WebSocket handshake on 127.0.0.1 and returns the answer's status and headers."""
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(request.encode())
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = connection.recv(4096)
            if not chunk:
                break
            received += chunk
    head = received.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    status = int(head[0].split()[1])
    headers = [
        (name.strip().lower(), value.strip())
        for name, _, value in (line.partition(":") for line in head[1:])
    ]
    return status, headers


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # uvicorn's legacy websockets
@pytest.mark.parametrize("implementation", ["websockets", "websockets-sansio", "wsproto"])
def test_denial_response_loses_the_refused_cookie_through_uvicorn(implementation: str) -> None:
    with LiveServer(socket_app("deny"), ws=implementation) as server:
        status, headers = handshake(server.port)
    assert status == 403
    cookies = [value for name, value in headers if name == "set-cookie"]
    assert cookies == ["session=s1; Path=/"]
