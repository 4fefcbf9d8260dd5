"""Each feature works without the other: a notice-only site needs no signing key, and a site
without the notice never classifies a browser unless the application asks."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route

from consent import ConsentMiddleware, ConsentSettings
from consent.browser.classify import BrowserClassifier
from tests.support import CHROME, GOOGLEBOT, OLD_FIREFOX, PAGE, client

SAME_ORIGIN = {"origin": "http://localhost"}


async def page(request: Request) -> HTMLResponse:
    response = HTMLResponse(PAGE)
    response.set_cookie("_ga", "GA1.1.1")
    return response


async def browser(request: Request) -> JSONResponse:
    return JSONResponse({"verdict": request.state.browser.verdict})


async def consent(request: Request) -> JSONResponse:
    state = request.state.consent
    return JSONResponse({"decided": state.decided, "analytics": state.allows("analytics")})


def app(settings: ConsentSettings) -> ConsentMiddleware:
    routes = [Route("/", page), Route("/browser", browser), Route("/consent", consent)]
    return ConsentMiddleware(Starlette(routes=routes), settings=settings)


def test_a_notice_only_site_runs_without_a_signing_key() -> None:
    settings = ConsentSettings.load(consent_enabled=False)  # no secret_keys, no debug
    with client(app(settings), follow_redirects=False) as visitor:
        old = visitor.get("/", headers={"user-agent": OLD_FIREFOX})
        assert 'id="browser-notice"' in old.text
        assert 'id="consent-banner"' not in old.text
        assert old.cookies.get("_ga") == "GA1.1.1"  # no consent managed, nothing filtered
        current = visitor.get("/", headers={"user-agent": CHROME})
        assert "browser-notice" not in current.text and "consent-banner" not in current.text
        assert visitor.get("/consent").json() == {"decided": False, "analytics": True}
        dismissed = visitor.post(
            "/_consent/browser-notice", data={"next": "/"}, headers=SAME_ORIGIN
        )
        assert dismissed.status_code == 303
        choice = visitor.post("/_consent", data={"action": "accept_all"}, headers=SAME_ORIGIN)
        assert choice.status_code == 404


def test_a_consent_site_still_needs_a_signing_key() -> None:
    from consent import ConfigurationError

    with pytest.raises(ConfigurationError, match="secret_keys"):
        ConsentSettings.load()


@pytest.fixture
def classifications(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    seen: list[bytes] = []
    original = BrowserClassifier.classify

    def counted(self: BrowserClassifier, user_agent: bytes, *args: Any) -> Any:
        seen.append(user_agent)
        return original(self, user_agent, *args)

    monkeypatch.setattr(BrowserClassifier, "classify", counted)
    return seen


def test_without_the_notice_no_browser_is_classified(classifications: list[bytes]) -> None:
    settings = ConsentSettings.load(secret_keys=["k"], notice_enabled=False)
    with client(app(settings)) as visitor:
        for agent in (OLD_FIREFOX, CHROME, "Mozilla/5.0 (X11) Firefox/3.0"):
            response = visitor.get("/", headers={"user-agent": agent})
            assert 'id="consent-banner"' in response.text
            assert "browser-notice" not in response.text
        bot = visitor.get("/", headers={"user-agent": GOOGLEBOT})
        assert "consent-banner" not in bot.text  # bots are still told apart, by the device
        assert classifications == []
        assert visitor.get("/browser", headers={"user-agent": OLD_FIREFOX}).json() == {
            "verdict": "outdated"
        }
    assert classifications == [OLD_FIREFOX.encode()]
