"""The consent HTTP API: state, choices by form and JSON, safe redirects, cross-site refusal."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consent.endpoints import DecisionEvent, safe_next
from tests.support import CHROME, client, make_settings, page_app

SAME_ORIGIN = {"origin": "http://localhost", "user-agent": CHROME}


def test_get_state_of_a_new_visitor() -> None:
    with client(page_app()) as browser:
        response = browser.get("/_consent")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    data = response.json()
    assert data["decided"] is False
    assert data["categories"] == {"necessary": True, "analytics": False, "marketing": False}
    assert data["revision"] == 1


def test_form_accept_all_redirects_and_sets_a_signed_cookie() -> None:
    with client(page_app(), follow_redirects=False) as browser:
        response = browser.post(
            "/_consent", data={"action": "accept_all", "next": "/page?x=1"}, headers=SAME_ORIGIN
        )
        assert response.status_code == 303
        assert response.headers["location"] == "/page?x=1"
        set_cookie = response.headers["set-cookie"]
        assert set_cookie.startswith("consent=")
        for attribute in ("HttpOnly", "Path=/", "SameSite=lax", "Max-Age=15724800"):
            assert attribute in set_cookie
        assert "Secure" not in set_cookie  # plain HTTP on localhost
        state = browser.get("/_consent").json()
    assert state["decided"] is True
    assert state["categories"] == {"necessary": True, "analytics": True, "marketing": True}
    assert state["source"] == "banner"


def test_secure_cookie_outside_localhost_and_on_https() -> None:
    app = page_app()
    for base in ("http://shop.example", "https://localhost"):
        with client(app, follow_redirects=False) as browser:
            browser.base_url = base
            origin = base
            response = browser.post(
                "/_consent", data={"action": "reject_all"}, headers={"origin": origin}
            )
        assert response.status_code == 303, response.text
        assert "Secure" in response.headers["set-cookie"]


def test_json_save_returns_the_new_state() -> None:
    with client(page_app()) as browser:
        response = browser.post(
            "/_consent",
            json={"action": "save", "categories": ["analytics"]},
            headers=SAME_ORIGIN,
        )
    assert response.status_code == 200
    data = response.json()
    assert data["categories"] == {"necessary": True, "analytics": True, "marketing": False}
    assert data["source"] == "api"
    assert data["consent_id"]


def test_save_with_form_categories() -> None:
    with client(page_app(), follow_redirects=False) as browser:
        browser.post(
            "/_consent",
            content=b"action=save&category=marketing&category=necessary",
            headers={**SAME_ORIGIN, "content-type": "application/x-www-form-urlencoded"},
        )
        assert browser.get("/_consent").json()["categories"] == {
            "necessary": True,
            "analytics": False,
            "marketing": True,
        }


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (b"action=destroy", "application/x-www-form-urlencoded", "unknown action 'destroy'"),
        (b"category=analytics", "application/x-www-form-urlencoded", "exactly one 'action'"),
        (
            b"action=save&category=ads",
            "application/x-www-form-urlencoded",
            "unknown category 'ads'",
        ),
        (b"action=save&action=accept_all", "application/x-www-form-urlencoded", "exactly one"),
        (b"\xff\xfe", "application/x-www-form-urlencoded", "malformed"),
        (b"a=1&&&=&b", "application/x-www-form-urlencoded", "malformed"),
        (b"{", "application/json", "not valid JSON"),
        (b"[1]", "application/json", "must be an object"),
        (b'{"action": "save", "categories": "analytics"}', "application/json", "list of category"),
        (b'{"action": "save", "categories": [1]}', "application/json", "list of category"),
        (b'{"action": "accept_all", "source": "gpc"}', "application/json", "'source'"),
        (b"action=accept_all", "text/plain", "Content-Type must be"),
        (b"action=accept_all&" + b"x" * 9000, "application/x-www-form-urlencoded", "larger than"),
    ],
)
def test_bad_choices_get_400_with_a_reason(body: bytes, content_type: str, reason: str) -> None:
    with client(page_app()) as browser:
        response = browser.post(
            "/_consent", content=body, headers={**SAME_ORIGIN, "content-type": content_type}
        )
    assert response.status_code == 400
    assert reason in response.text
    assert "set-cookie" not in response.headers


def test_json_errors_are_json() -> None:
    with client(page_app()) as browser:
        response = browser.post("/_consent", json={"action": "nope"}, headers=SAME_ORIGIN)
    assert response.status_code == 400
    assert "unknown action" in response.json()["error"]


@pytest.mark.parametrize(
    "headers",
    [
        {"sec-fetch-site": "cross-site"},
        {"sec-fetch-site": "same-site"},
        {"origin": "http://evil.example"},
        {"origin": "null"},
        {"origin": "http://localhost.evil.example"},
        {"referer": "http://evil.example/page"},
    ],
)
def test_cross_site_posts_are_refused(headers: dict[str, str]) -> None:
    with client(page_app()) as browser:
        for path in ("/_consent", "/_consent/browser-notice"):
            response = browser.post(path, data={"action": "accept_all"}, headers=headers)
            assert response.status_code == 403, path
            assert "cross-site" in response.text
            assert "set-cookie" not in response.headers


@pytest.mark.parametrize(
    "headers",
    [
        {"sec-fetch-site": "same-origin", "origin": "http://evil.example"},
        {"sec-fetch-site": "none"},
        {"origin": "http://localhost"},
        {"origin": "http://localhost:80"},
        {"referer": "http://localhost/page"},
        {},
    ],
)
def test_same_origin_and_non_browser_posts_are_accepted(headers: dict[str, str]) -> None:
    with client(page_app(), follow_redirects=False) as browser:
        response = browser.post("/_consent", data={"action": "accept_all"}, headers=headers)
    assert response.status_code == 303


@pytest.mark.parametrize(
    ("next_path", "location"),
    [
        ("/shop?item=1#top", "/shop?item=1#top"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("\\\\evil.example", "/"),
        ("https://evil.example/", "/"),
        ("javascript:alert(1)", "/"),
        ("/\t/evil.example", "/"),
        ("/%0d%0aSet-Cookie:x=1", "/%0d%0aSet-Cookie:x=1"),
        ("/\r\nSet-Cookie: x=1", "/"),
        ("", "/"),
        ("page", "/"),
        ("/" + "a" * 3000, "/"),
    ],
)
def test_next_is_only_a_path_on_this_site(next_path: str, location: str) -> None:
    with client(page_app(), follow_redirects=False) as browser:
        response = browser.post(
            "/_consent", data={"action": "reject_all", "next": next_path}, headers=SAME_ORIGIN
        )
    assert response.status_code == 303
    assert response.headers["location"] == location


@given(st.text(max_size=80))
def test_safe_next_never_leaves_the_site(value: str) -> None:
    result = safe_next(value)
    assert result.startswith("/")
    assert not result.startswith(("//", "/\\"))
    assert "\\" not in result
    assert all(ord(char) >= 0x20 and ord(char) != 0x7F for char in result)


def test_narrowing_consent_expires_revoked_cookies_the_request_carries() -> None:
    app = page_app(make_settings(revoke_cookie_domains=[".localhost.test"]))
    with client(app) as browser:
        browser.post("/_consent", data={"action": "accept_all"}, headers=SAME_ORIGIN)
        browser.cookies.set("_ga", "GA1.1.1", domain="localhost.local")
        browser.cookies.set("_ga_XYZ", "GS1", domain="localhost.local")
        browser.cookies.set("_fbp", "fb", domain="localhost.local")
        browser.cookies.set("session", "s", domain="localhost.local")
        response = browser.post(
            "/_consent",
            json={"action": "save", "categories": ["marketing"]},
            headers=SAME_ORIGIN,
        )
    set_cookies = response.headers.get_list("set-cookie")
    expired = {value.split("=", 1)[0] for value in set_cookies if "Max-Age=0" in value}
    assert expired == {"_ga", "_ga_XYZ"}
    assert any("Domain=.localhost.test" in value for value in set_cookies)


def test_decisions_are_recorded(caplog: pytest.LogCaptureFixture) -> None:
    events: list[DecisionEvent] = []
    app = page_app(on_decision=events.append)
    with client(app) as browser, caplog.at_level("INFO", logger="consent.audit"):
        browser.post("/_consent", json={"action": "accept_all"}, headers=SAME_ORIGIN)
        browser.post("/_consent", json={"action": "reject_all"}, headers=SAME_ORIGIN)
    assert [event.granted for event in events] == [
        ("analytics", "marketing", "necessary"),
        ("necessary",),
    ]
    assert events[1].previous == ("analytics", "marketing", "necessary")
    assert events[0].consent_id == events[1].consent_id
    assert events[1].refused == ("analytics", "marketing")
    logged = [json.loads(r.getMessage().split(" ", 2)[2]) for r in caplog.records]
    assert logged[0]["consent_id"] == events[0].consent_id


def test_a_failing_callback_does_not_lose_the_choice() -> None:
    def broken(event: Any) -> None:
        raise RuntimeError("database down")

    with client(page_app(on_decision=broken)) as browser:
        response = browser.post("/_consent", json={"action": "accept_all"}, headers=SAME_ORIGIN)
    assert response.status_code == 200
    assert "consent=" in response.headers["set-cookie"]


def test_dismiss_notice_by_form_and_json() -> None:
    with client(page_app(make_settings(notice_dismiss_days=3)), follow_redirects=False) as browser:
        response = browser.post(
            "/_consent/browser-notice", data={"next": "/back"}, headers=SAME_ORIGIN
        )
        assert response.status_code == 303
        assert response.headers["location"] == "/back"
        assert "consent_browser_notice=1" in response.headers["set-cookie"]
        assert "Max-Age=259200" in response.headers["set-cookie"]
        response = browser.post("/_consent/browser-notice", json={}, headers=SAME_ORIGIN)
        assert response.json() == {"dismissed": True}


def test_settings_page_works_without_javascript() -> None:
    with client(page_app()) as browser:
        response = browser.get("/_consent/settings?next=/shop", headers={"accept-language": "fr"})
    assert response.status_code == 200
    assert response.headers["content-language"] == "fr"
    html = response.text
    assert '<html lang="fr" dir="ltr">' in html
    assert 'name="category" value="analytics"' in html
    assert 'value="/shop"' in html
    assert "<script" not in html


def test_dialog_fragment_for_a_decided_visitor() -> None:
    with client(page_app()) as browser:
        browser.post(
            "/_consent",
            json={"action": "save", "categories": ["marketing"]},
            headers=SAME_ORIGIN,
        )
        response = browser.get(
            "/_consent/settings?fragment=dialog&next=/shop", headers={"accept-language": "de"}
        )
    assert response.status_code == 200
    assert "Cookie" in response.headers["vary"]
    html = response.text
    assert html.startswith('<dialog id="consent-preferences"')
    assert 'lang="de"' in html
    assert 'value="marketing" id="consent-dialog-marketing"' in html
    marketing = html.index('value="marketing"')
    analytics = html.index('value="analytics"')
    assert "checked" in html[marketing : html.index(">", marketing)]
    assert "checked" not in html[analytics : html.index(">", analytics)]
    assert 'name="next" value="/shop"' in html
    assert "<html" not in html


def test_settings_page_ignores_a_foreign_next() -> None:
    with client(page_app()) as browser:
        html = browser.get("/_consent/settings?next=//evil.example").text
    assert "evil.example" not in html


def test_static_assets_are_cacheable() -> None:
    with client(page_app()) as browser:
        page = browser.get("/").text
        address = page.split('src="', 1)[1].split('"', 1)[0]  # consent.js?v=…, as pages link it
        assert address.startswith("/_consent/static/consent.js?v=")
        response = browser.get(address)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/javascript")
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
        # Another version's address (a page of an earlier release), or none: revalidated.
        for other in (
            "/_consent/static/consent.js?v=0123456789abcdef",
            "/_consent/static/consent.js",
        ):
            elsewhere = browser.get(other)
            assert elsewhere.content == response.content
            assert elsewhere.headers["cache-control"] == "no-cache"
            assert elsewhere.headers["etag"] == response.headers["etag"]
        assert response.headers["x-content-type-options"] == "nosniff"
        again = browser.get(
            "/_consent/static/consent.js", headers={"if-none-match": response.headers["etag"]}
        )
        assert again.status_code == 304
        assert browser.get("/_consent/static/consent.css").status_code == 200
        assert browser.get("/_consent/static/../settings.py").status_code == 404
        assert browser.get("/_consent/static/nope.js").status_code == 404


def test_unknown_paths_and_methods() -> None:
    with client(page_app()) as browser:
        assert browser.get("/_consent/nope").status_code == 404
        response = browser.delete("/_consent")
        assert response.status_code == 405
        assert response.headers["allow"] == "GET, HEAD, POST"
        assert browser.get("/_consent/browser-notice").status_code == 405
        assert browser.get("/_consentx").status_code == 404  # the app's, not ours


def test_a_host_prefixed_consent_cookie_is_secure_host_only_and_site_wide() -> None:
    """Browsers keep a ``__Host-`` cookie only with Secure, Path=/ and no Domain: it is sent so
    even on plain HTTP on localhost, where other cookies drop Secure."""
    settings = make_settings(cookie_name="__Host-consent")
    with client(page_app(settings), follow_redirects=False) as browser:
        response = browser.post("/_consent", data={"action": "accept_all"}, headers=SAME_ORIGIN)
    set_cookie = response.headers["set-cookie"]
    assert set_cookie.startswith("__Host-consent=")
    assert "Secure" in set_cookie
    assert "Path=/" in set_cookie
    assert "Domain" not in set_cookie
