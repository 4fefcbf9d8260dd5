"""Real databases for the consent-record tests: a SQLite file in the test's folder, and a fresh
database on a real PostgreSQL server for each test.

The server is ``$CONSENT_TEST_POSTGRES_URL`` when set (its role must be allowed to create
databases), else the one on 127.0.0.1:5432 with the role ``scripts/check.sh`` creates. Without
one the PostgreSQL tests are skipped with the reason, except under ``$CI``, where they fail.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from consent.records.database import records_url
from tests.records.helpers import admin, drop_database, run
from tests.records.private_postgres import private_postgres

__all__ = ["private_postgres"]  # a fixture for the tests that stop their own server

POSTGRES_URL_ENV = "CONSENT_TEST_POSTGRES_URL"
LOCAL_POSTGRES_URL = "postgresql+asyncpg://consent:consent-test@127.0.0.1:5432/consent"
LOCAL_POSTGRES = ("127.0.0.1", 5432)


def skip_or_fail(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI must run the PostgreSQL tests)")
    pytest.skip(reason)


def _answers(address: tuple[str, int]) -> bool:
    try:
        with socket.create_connection(address, timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def postgres_server() -> sa.URL:
    """The PostgreSQL server the tests may create databases on."""
    configured = os.environ.get(POSTGRES_URL_ENV)
    if not configured and not _answers(LOCAL_POSTGRES):
        skip_or_fail(
            f"no PostgreSQL: {POSTGRES_URL_ENV} is not set and nothing answers on "
            "127.0.0.1:5432 (scripts/check.sh installs and starts one as root)"
        )
    url = records_url(configured or LOCAL_POSTGRES_URL)
    try:
        run(admin(url, "SELECT 1"))
    except Exception as error:
        skip_or_fail(f"PostgreSQL at {url.render_as_string()} refused the tests: {error}")
    return url


@pytest.fixture
def postgres_url(postgres_server: sa.URL) -> Iterator[str]:
    """A new, empty database on the server, dropped after the test."""
    name = f"consent_test_{uuid.uuid4().hex[:12]}"
    run(admin(postgres_server, f'CREATE DATABASE "{name}"'))
    try:
        yield postgres_server.set(database=name).render_as_string(hide_password=False)
    finally:
        run(drop_database(postgres_server, name))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path}/records.sqlite3"


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Each test that takes it runs on SQLite and on PostgreSQL."""
    return str(request.getfixturevalue(f"{request.param}_url"))
