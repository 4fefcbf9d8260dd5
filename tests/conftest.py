"""Shared fixtures; the helpers behind them live in ``tests/support.py``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from consent import ConsentSettings
from tests.support import LiveServer, make_settings


@pytest.fixture
def settings() -> ConsentSettings:
    return make_settings()


@pytest.fixture
def live_server() -> Iterator[Callable[[Any], LiveServer]]:
    """Starts uvicorn servers for a test and stops them after it."""
    servers: list[LiveServer] = []

    def start(app: Any) -> LiveServer:
        server = LiveServer(app).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
