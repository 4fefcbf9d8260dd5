"""Visitors: judged from their headers alone, kept in two bounded caches, consent checked
against the clock on every request."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consent.visitor import Site, _cookie_reader, secure_cookies
from tests.support import CHROME, GOOGLEBOT, OLD_FIREFOX, http_scope, make_settings


def site(**overrides: object) -> Site:
    return Site(make_settings(**overrides))


def headers(**values: str) -> list[tuple[bytes, bytes]]:
    return [(name.replace("_", "-").encode(), value.encode()) for name, value in values.items()]


def decided_cookie(place: Site) -> str:
    assert place.codec is not None
    return place.codec.decide(frozenset({"analytics"}), "banner")[1]


def test_the_same_headers_are_the_same_visitor() -> None:
    place = site()
    first = place.visitor_by_headers(headers(user_agent=CHROME, cookie="a=1"))
    assert place.visitor_by_headers(headers(user_agent=CHROME, cookie="a=1")) is first


def test_other_cookies_changing_find_the_same_visitor() -> None:
    place = site()
    cookie = decided_cookie(place)
    first = place.visitor_by_headers(headers(user_agent=CHROME, cookie=f"_ga=1; consent={cookie}"))
    again = place.visitor_by_headers(headers(user_agent=CHROME, cookie=f"_ga=2; consent={cookie}"))
    assert again is first
    assert again.consent.allows("analytics")


def test_large_headers_are_judged_but_not_kept() -> None:
    place = site()
    large = headers(user_agent=CHROME + " " + "y" * 5000)
    assert place.visitor_by_headers(large) is not place.visitor_by_headers(large)
    # A large Cookie header of other cookies is not kept whole, but our cookies' values are.
    other = headers(user_agent=CHROME, cookie="x=" + "y" * 5000)
    assert place.visitor_by_headers(other) is place.visitor_by_headers(other)


def test_consent_expires_on_the_clock_even_for_a_kept_visitor(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    place = site(consent_max_age_days=1)
    visitor = place.visitor_by_headers(headers(cookie=f"consent={decided_cookie(place)}"))
    assert visitor.consent.decided
    later = time.time() + 2 * 86400
    monkeypatch.setattr(time, "time", lambda: later)
    assert not visitor.consent.decided


def test_what_a_visitor_gets_injected() -> None:
    place = site()
    old = place.visitor_by_headers(headers(user_agent=OLD_FIREFOX))
    assert old.notice() == "outdated"
    assert old.template(old.consent, "utf-8") is not None
    dismissed = place.visitor_by_headers(
        headers(user_agent=OLD_FIREFOX, cookie="consent_browser_notice=1")
    )
    assert dismissed.notice() is None
    bot = place.visitor_by_headers(headers(user_agent=GOOGLEBOT))
    assert bot.template(bot.consent, "utf-8") is None
    nothing_due = site(consent_enabled=False).visitor_by_headers(headers(user_agent=CHROME))
    assert nothing_due.template(nothing_due.consent, "utf-8") is None


def test_gpc_refuses_everything_optional_but_leaves_the_choice_open() -> None:
    visitor = site().visitor_by_headers(headers(user_agent=CHROME, sec_gpc="1"))
    assert visitor.consent.gpc and not visitor.consent.decided
    assert visitor.consent.granted == frozenset({"necessary"})
    assert not site(honour_gpc=False).visitor_by_headers(headers(sec_gpc="1")).consent.gpc


@pytest.mark.parametrize(
    ("header", "value"),
    [
        (b"consent=abc", b"abc"),
        (b"a=1; consent=abc; b=2", b"abc"),
        (b'a=1;  consent="abc"', b"abc"),
        (b"xconsent=no; consent=yes", b"yes"),
        (b"consent=first; consent=second", b"first"),
        (b"a=consent=no", None),
        (b"", None),
    ],
)
def test_our_cookie_is_read_as_a_cookie_parser_reads_it(header: bytes, value: bytes | None) -> None:
    assert _cookie_reader("consent")(header) == value


@given(
    st.lists(
        st.tuples(st.sampled_from(["a", "consent", "xconsent", "b"]), st.text("xyz=", max_size=5)),
        max_size=5,
    )
)
def test_the_cookie_reader_agrees_with_the_first_match(pairs: list[tuple[str, str]]) -> None:
    header = "; ".join(f"{name}={value}" for name, value in pairs).encode()
    expected = next((value for name, value in pairs if name == "consent"), None)
    found = _cookie_reader("consent")(header)
    assert found == (None if expected is None else expected.split(";")[0].encode())


@pytest.mark.parametrize(
    ("scheme", "host", "secure"),
    [
        ("http", "localhost:8000", False),
        ("http", "127.0.0.1", False),
        ("http", "[::1]:8000", False),
        ("https", "localhost", True),
        ("http", "example.com", True),  # behind a TLS proxy that does not say so
    ],
)
def test_cookies_are_secure_unless_plain_http_on_localhost(
    scheme: str, host: str, secure: bool
) -> None:
    scope = http_scope()
    scope["scheme"] = scheme
    scope["headers"] = [(b"host", host.encode())]
    assert secure_cookies(scope, make_settings()) is secure
    assert secure_cookies(scope, make_settings(cookie_secure="always")) is True
