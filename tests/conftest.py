"""Shared fixtures; the helpers behind them live in ``tests/support.py``."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import settings as hypothesis_settings
from playwright.sync_api import Browser

from consent import ConsentSettings
from tests.support import LiveServer, launched_chromium, make_settings

# A busy 2-core machine can stretch any one example past hypothesis' 200 ms deadline; the
# properties are about correctness, and the benchmarks measure speed.
hypothesis_settings.register_profile("consent", deadline=None)
hypothesis_settings.load_profile("consent")

# No record store and no cookie inventory unless a test names its own: their defaults are files
# in the working directory, the repository. Set for the whole session, before the test modules
# are collected: some import the example app, which reads its settings when it is imported.
os.environ["CONSENT_RECORDS_URL"] = "none"
os.environ["CONSENT_COOKIE_INVENTORY"] = "none"


@pytest.fixture
def settings() -> ConsentSettings:
    return make_settings()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Chromium for the tests of one module (see :func:`tests.support.launched_chromium`)."""
    with launched_chromium() as launched:
        yield launched


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


@pytest.fixture(autouse=True)
def no_record_store_in_the_repository(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings read from the environment or a TOML file (the examples) keep no records unless
    a test asks: the default store is a SQLite file in the working directory, the repository."""
    monkeypatch.setenv("CONSENT_RECORDS_URL", "none")
