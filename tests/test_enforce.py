"""Which cookie belongs to which category, and what reaches a visitor."""

from __future__ import annotations

import logging

import pytest

from consent.enforce import UNDECLARED, CookiePolicy, is_deletion
from tests.support import make_settings

NECESSARY = frozenset({"necessary"})
EVERYTHING = frozenset({"necessary", "analytics", "marketing"})


def policy(**overrides: object) -> CookiePolicy:
    return CookiePolicy(make_settings(**overrides))


@pytest.mark.parametrize(
    ("name", "category"),
    [
        ("session", "necessary"),
        ("consent", "necessary"),
        ("consent_browser_notice", "necessary"),
        ("_ga", "analytics"),
        ("_ga_ABC123", "analytics"),
        ("_gat", UNDECLARED),
        ("_fbp", "marketing"),
        ("other", UNDECLARED),
    ],
)
def test_category_of(name: str, category: str) -> None:
    assert policy().category_of(name) == category


def test_filter_keeps_order_and_other_headers() -> None:
    headers = [
        (b"content-type", b"text/html"),
        (b"Set-Cookie", b"session=1; Path=/"),
        (b"set-cookie", b"_ga=GA1; Max-Age=100"),
        (b"SET-COOKIE", b"_ga_X=1"),
        (b"x-other", b"1"),
        (b"set-cookie", b"_fbp=2"),
    ]
    kept = policy().filter_headers(headers, NECESSARY)
    assert kept == [
        (b"content-type", b"text/html"),
        (b"Set-Cookie", b"session=1; Path=/"),
        (b"x-other", b"1"),
    ]
    assert policy().filter_headers(headers, EVERYTHING) is None


def test_nothing_to_drop_returns_none_quickly() -> None:
    assert policy().filter_headers([(b"content-type", b"text/html")], NECESSARY) is None


def test_cookie_name_is_bytes_before_first_equals() -> None:
    kept = policy().filter_headers([(b"set-cookie", b" _ga =a=b; Path=/")], NECESSARY)
    assert kept == []


@pytest.mark.parametrize(
    "value",
    [
        b"_ga=; Max-Age=0",
        b"_ga=; max-age=-1; Path=/",
        b"_ga=; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
        b"_ga=x; expires=Wed, 21 Oct 2015 07:28:00 GMT; Path=/",
    ],
)
def test_app_deletions_pass(value: bytes) -> None:
    assert is_deletion(value)
    assert policy().filter_headers([(b"set-cookie", value)], NECESSARY) is None


@pytest.mark.parametrize(
    "value",
    [
        b"_ga=x",
        b"_ga=x; Max-Age=10",
        b"_ga=x; Max-Age=",
        b"_ga=x; Expires=Wed, 21 Oct 2099 07:28:00 GMT",
        b"_ga=x; Expires=garbage",
        b"_ga=x; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=100",
    ],
)
def test_not_deletions(value: bytes) -> None:
    assert not is_deletion(value)


def test_undeclared_allow_block_warn(caplog: pytest.LogCaptureFixture) -> None:
    headers = [(b"set-cookie", b"mystery=1"), (b"set-cookie", b"mystery=2")]
    assert policy(undeclared_cookies="allow").filter_headers(headers, NECESSARY) is None
    assert policy(undeclared_cookies="block").filter_headers(headers, EVERYTHING) == []
    warner = policy(undeclared_cookies="warn")
    with caplog.at_level(logging.WARNING, logger="consent"):
        assert warner.filter_headers(headers, NECESSARY) is None
        assert warner.filter_headers(headers, NECESSARY) is None
    assert [r.getMessage() for r in caplog.records].count(
        "consent: cookie 'mystery' belongs to no category; it was let through"
    ) == 1


def test_expirations_cover_paths_and_domains() -> None:
    revoker = policy(revoke_cookie_domains=[".example.com"], revoke_cookie_paths=["/", "/app"])
    values = revoker.expirations(["session", "_ga", "_ga_X", "other"], NECESSARY)
    assert len(values) == 8
    assert "_ga=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/" in values
    assert (
        "_ga_X=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/app; Domain=.example.com"
        in values
    )
    assert not any(value.startswith(("session=", "other=")) for value in values)
    assert revoker.expirations(["_ga"], EVERYTHING) == []
