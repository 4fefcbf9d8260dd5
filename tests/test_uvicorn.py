"""Through a real uvicorn server on localhost: enforcement, injection and the API over HTTP."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

import httpx

from tests.support import CHROME, OLD_FIREFOX, LiveServer, page_app


def test_enforcement_and_banner_over_http(live_server: Callable[[Any], LiveServer]) -> None:
    server = live_server(page_app())
    with httpx.Client(base_url=server.url, follow_redirects=False) as http:
        first = http.get("/", headers={"user-agent": CHROME})
        assert first.status_code == 200
        assert first.text.count('id="consent-banner"') == 1
        assert int(first.headers["content-length"]) == len(first.content)
        assert set(first.cookies.keys()) == {"session", "mystery"}
        assert "Cookie" in first.headers["vary"]

        choice = http.post(
            "/_consent",
            data={"action": "save", "category": "analytics", "next": "/"},
            headers={"origin": server.url},
        )
        assert choice.status_code == 303
        assert choice.headers["location"] == "/"
        http.cookies.set("consent", choice.cookies["consent"])

        second = http.get("/", headers={"user-agent": CHROME})
        assert 'id="consent-banner"' not in second.text
        assert set(second.cookies.keys()) == {"session", "_ga", "_ga_XYZ", "mystery"}

        withdraw = http.post(
            "/_consent", json={"action": "reject_all"}, headers={"origin": server.url}
        )
        assert withdraw.status_code == 200
        expired = [v for v in withdraw.headers.get_list("set-cookie") if "Max-Age=0" in v]
        assert {value.split("=", 1)[0] for value in expired} <= {"_ga", "_ga_XYZ"}


def test_old_browser_and_odd_user_agents_over_http(
    live_server: Callable[[Any], LiveServer],
) -> None:
    server = live_server(page_app())
    with httpx.Client(base_url=server.url) as http:
        assert 'id="browser-notice"' in http.get("/", headers={"user-agent": OLD_FIREFOX}).text
        for agent in ("x" * 8000, "\x01\x7f" * 100, "Mozilla/5.0 (" * 300):
            response = http.get("/state", headers={"user-agent": agent})
            assert response.status_code == 200
    # Bytes a client library refuses to send: obs-text (0x80-0xFF) is legal on the wire.
    binary = bytes(range(0x80, 0x100)) * 8
    request = b"GET /state HTTP/1.1\r\nHost: localhost\r\nUser-Agent: " + binary + b"\r\n\r\n"
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as connection:
        connection.sendall(request)
        status_line = connection.recv(4096).split(b"\r\n", 1)[0]
    assert status_line == b"HTTP/1.1 200 OK"


def test_cross_site_post_refused_over_http(live_server: Callable[[Any], LiveServer]) -> None:
    server = live_server(page_app())
    with httpx.Client(base_url=server.url) as http:
        response = http.post(
            "/_consent", data={"action": "accept_all"}, headers={"sec-fetch-site": "cross-site"}
        )
        assert response.status_code == 403
