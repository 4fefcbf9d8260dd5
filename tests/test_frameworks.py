"""The example site on every supported framework, in process and through a real uvicorn server.

Each framework's example (``examples/``) serves the same page: it sets ``session`` (necessary),
``_ga`` (analytics) and ``_fbp`` (marketing) and prints what the framework's own code read from
the consent and browser state. The in-process tests run the app's lifespan the way a server
does (Django's ASGI handler refuses lifespan, which servers treat as "unsupported").
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import CHROME, OLD_FIREFOX, REPO, LiveServer

BANNER = 'id="consent-banner"'
NOTICE = 'id="browser-notice"'
DEMO_COOKIES = frozenset({"session", "_ga", "_fbp"})

#: Where uvicorn finds each example, as ``module:attribute``.
APPS = {
    "starlette": "examples.starlette_app:app",
    "fastapi": "examples.fastapi_app:app",
    "litestar": "examples.litestar_app:app",
    "quart": "examples.quart_app:app",
    "django": "examples.django_project.demo_site.asgi:application",
}
FRAMEWORKS = list(APPS)

App = Callable[..., Awaitable[None]]
Scenario = Callable[[httpx.AsyncClient], Awaitable[None]]


def repository_on_path() -> None:
    """The examples import as ``examples.…`` from the repository root, as uvicorn does there."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))


def load(framework: str) -> App:
    """The example's ASGI app, imported only when a test needs it."""
    repository_on_path()
    module_name, _, attribute = APPS[framework].partition(":")
    app: App = getattr(importlib.import_module(module_name), attribute)
    return app


def set_cookie_names(response: httpx.Response) -> set[str]:
    """The names of the cookies a response sets."""
    return {value.split("=", 1)[0].strip() for value in response.headers.get_list("set-cookie")}


def vary_tokens(response: httpx.Response) -> set[str]:
    return {token.strip().lower() for token in response.headers.get("vary", "").split(",")}


def element_text(html: str, element_id: str) -> str:
    """The text of the element with ``element_id`` on the example page, tags removed."""
    match = re.search(rf'id="{element_id}">(.*?)</(?:p|ul)>', html, re.DOTALL)
    assert match is not None, f"no #{element_id} on the page"
    return re.sub(r"<[^>]+>", " ", match.group(1))


async def _answer(
    outbox: asyncio.Queue[dict[str, Any]], task: asyncio.Task[None]
) -> dict[str, Any] | None:
    """The app's next lifespan message, or None when the app ended without one."""
    getter = asyncio.ensure_future(outbox.get())
    done, _ = await asyncio.wait({getter, task}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
    if getter in done:
        return getter.result()
    getter.cancel()
    if not done:
        raise TimeoutError("the app did not answer the lifespan message")
    return None


@contextlib.asynccontextmanager
async def lifespan(app: App) -> AsyncIterator[None]:
    """Startup before the block and shutdown after it, as uvicorn's ``lifespan="auto"`` does.

    An app that raises instead of answering ``lifespan.startup`` (Django) does not support the
    protocol; it is then served without one, like uvicorn does.
    """
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": {}}

    async def serve() -> None:
        await app(scope, inbox.get, outbox.put)

    task = asyncio.create_task(serve())
    await inbox.put({"type": "lifespan.startup"})
    started = await _answer(outbox, task)
    if started is None:
        task.exception()  # retrieved: the app does not speak lifespan
        yield
        return
    assert started["type"] == "lifespan.startup.complete", started
    try:
        yield
    finally:
        await inbox.put({"type": "lifespan.shutdown"})
        stopped = await _answer(outbox, task)
        assert stopped is not None
        assert stopped["type"] == "lifespan.shutdown.complete", stopped
        await asyncio.wait_for(task, timeout=10)


def visit(framework: str, scenario: Scenario, user_agent: str = CHROME) -> None:
    """Runs ``scenario`` with an in-process client of the framework's example app."""
    app = load(framework)

    async def main() -> None:
        transport = httpx.ASGITransport(app=app)
        async with (
            lifespan(app),
            httpx.AsyncClient(
                transport=transport, base_url="http://localhost", headers={"user-agent": user_agent}
            ) as client,
        ):
            await scenario(client)

    asyncio.run(main())


@pytest.fixture(params=FRAMEWORKS)
def framework(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


def test_new_visitor_sees_the_banner_and_gets_only_necessary_cookies(framework: str) -> None:
    async def scenario(client: httpx.AsyncClient) -> None:
        response = await client.get("/")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        assert response.text.count(BANNER) == 1
        assert NOTICE not in response.text
        assert set_cookie_names(response) & DEMO_COOKIES == {"session"}
        assert "cookie" in vary_tokens(response)
        assert "Decided: no" in element_text(response.text, "decided")
        assert "analytics: refused" in element_text(response.text, "categories")
        assert element_text(response.text, "browser").startswith("Chrome 120")
        assert 'href="/_consent/settings?next=/" data-consent-open' in response.text

        settings_page = await client.get("/_consent/settings?next=/")
        assert settings_page.status_code == 200
        assert settings_page.headers["content-type"].startswith("text/html")

        status = await client.get("/api/status")
        assert status.json() == {"consent": ["necessary"], "browser": "supported"}

    visit(framework, scenario)


def test_outdated_browser_gets_the_notice(framework: str) -> None:
    async def scenario(client: httpx.AsyncClient) -> None:
        response = await client.get("/")
        assert response.status_code == 200
        assert response.text.count(NOTICE) == 1
        assert element_text(response.text, "browser").startswith("Firefox 10")
        assert "supported" not in element_text(response.text, "browser").split(":")[-1]

    visit(framework, scenario, user_agent=OLD_FIREFOX)


async def decide(client: httpx.AsyncClient, action: str) -> httpx.Response:
    """Posts the banner's form as a browser on this site would, and checks the redirect."""
    response = await client.post(
        "/_consent",
        data={"action": action, "next": "/"},
        headers={"origin": str(client.base_url).rstrip("/")},
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/"
    assert "consent" in set_cookie_names(response)
    return response


def test_accept_all_lets_every_cookie_through(framework: str) -> None:
    async def scenario(client: httpx.AsyncClient) -> None:
        await decide(client, "accept_all")
        response = await client.get("/")
        assert response.status_code == 200
        assert set_cookie_names(response) >= DEMO_COOKIES
        assert BANNER not in response.text
        assert "Decided: yes" in element_text(response.text, "decided")
        categories = element_text(response.text, "categories")
        assert "analytics: allowed" in categories
        assert "marketing: allowed" in categories

    visit(framework, scenario)


def test_reject_all_keeps_only_necessary_cookies(framework: str) -> None:
    async def scenario(client: httpx.AsyncClient) -> None:
        await decide(client, "reject_all")
        response = await client.get("/")
        assert response.status_code == 200
        assert set_cookie_names(response) & DEMO_COOKIES == {"session"}
        assert BANNER not in response.text
        assert "Decided: yes" in element_text(response.text, "decided")
        assert "analytics: refused" in element_text(response.text, "categories")

    visit(framework, scenario)


@pytest.fixture(scope="module", params=FRAMEWORKS)
def live_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """The base URL of the framework's example served by uvicorn (imported by its string)."""
    repository_on_path()
    with LiveServer(APPS[request.param]) as server:
        yield server.url


def test_through_uvicorn(live_url: str) -> None:
    with httpx.Client(base_url=live_url, headers={"user-agent": CHROME}, timeout=10) as client:
        first = client.get("/")
        assert first.status_code == 200
        assert first.text.count(BANNER) == 1
        assert set_cookie_names(first) & DEMO_COOKIES == {"session"}

        decision = client.post(
            "/_consent", data={"action": "accept_all", "next": "/"}, headers={"origin": live_url}
        )
        assert decision.status_code == 303, decision.text
        assert "consent" in client.cookies

        second = client.get("/")
        assert second.status_code == 200
        assert BANNER not in second.text
        assert "_ga" in set_cookie_names(second)
        assert "Decided: yes" in element_text(second.text, "decided")


def test_django_manage_py_runs_from_anywhere(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    result = subprocess.run(
        [sys.executable, str(REPO / "examples" / "django_project" / "manage.py"), "check"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout
