"""Which cookie belongs to which category, and what reaches a visitor.

The deletion decision and the cookie-name reading are held to a second reading of RFC 6265bis
written here, independently and literally (byte by byte, step by step, no regular expressions),
on generated Set-Cookie lines.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from consent.choice.enforcement import (
    CACHED_NAME_LENGTH,
    EPOCH,
    MAX_REVOKED_NAMES,
    UNDECLARED,
    CookiePolicy,
    is_deletion,
    parse_cookie_date,
    parse_set_cookie,
    set_cookie_name,
)
from tests.support import make_settings

NECESSARY = frozenset({"necessary"})
EVERYTHING = frozenset({"necessary", "analytics", "marketing"})
#: The moment the generated lines are judged at (1 June 2025).
NOW = datetime(2025, 6, 1, tzinfo=UTC).timestamp()
#: The default settings' refused names for a visitor who granted only NECESSARY.
REFUSED_BY_DEFAULT = re.compile(r"_ga|_ga_.*|_fbp", re.DOTALL)
PREFIXED = ["__Secure-x", "__Host-y", "__Http-z", "__Host-Http-w", "__SECURE-v", "__host-u"]


def policy(**overrides: object) -> CookiePolicy:
    return CookiePolicy(make_settings(**overrides))


def prefixed_policy(**overrides: object) -> CookiePolicy:
    """Default categories, with the prefixed names in analytics."""
    categories = {
        "necessary": {"label": "Necessary", "required": True, "cookies": ["session"]},
        "analytics": {"label": "Analytics", "cookies": ["_ga", "_ga_*", *PREFIXED]},
        "marketing": {"label": "Marketing", "cookies": ["_fbp"]},
    }
    return policy(categories=categories, **overrides)


# An independent reading of RFC 6265bis, literal and slow.

WSP = b" \t"
CONTROLS = {*range(0x00, 0x09), *range(0x0A, 0x20), 0x7F}
DIGITS = set(b"0123456789")
DELIMITERS = {0x09, *range(0x20, 0x30), *range(0x3B, 0x41), *range(0x5B, 0x61), *range(0x7B, 0x7F)}
MONTHS = b"jan feb mar apr may jun jul aug sep oct nov dec".split()


def spec_date_tokens(text: bytes) -> list[bytes]:
    """§5.1.1 step 1: the date-tokens, split at delimiters."""
    tokens: list[bytes] = []
    current = b""
    for byte in text:
        if byte in DELIMITERS:
            if current:
                tokens.append(current)
            current = b""
        else:
            current += bytes([byte])
    if current:
        tokens.append(current)
    return tokens


def spec_digits(token: bytes, fewest: int, most: int) -> tuple[int, bytes] | None:
    """``fewest*mostDIGIT [ non-digit *OCTET ]`` at the start of ``token``: the number and the
    rest, or None when the token does not start so."""
    count = 0
    while count < len(token) and token[count] in DIGITS:
        count += 1
    if count < fewest or count > most:
        return None
    return int(token[:count]), token[count:]


def spec_time(token: bytes) -> tuple[int, int, int] | None:
    fields = []
    rest = token
    for index in range(3):
        found = spec_digits(rest, 1, 2)
        if found is None:
            return None
        number, rest = found
        fields.append(number)
        if index < 2:
            if rest[:1] != b":":
                return None
            rest = rest[1:]
    return fields[0], fields[1], fields[2]


def spec_cookie_date(text: bytes) -> datetime | None:
    """§5.1.1, step by step."""
    found_time = found_day = found_month = found_year = False
    hour = minute = second = day = month = year = 0
    for token in spec_date_tokens(text):
        if not found_time and spec_time(token) is not None:
            found_time = True
            hour, minute, second = spec_time(token) or (0, 0, 0)
            continue
        if not found_day and spec_digits(token, 1, 2) is not None:
            found_day = True
            day = (spec_digits(token, 1, 2) or (0, b""))[0]
            continue
        if not found_month and len(token) >= 3 and token[:3].lower() in MONTHS:
            found_month = True
            month = MONTHS.index(token[:3].lower()) + 1
            continue
        if not found_year and spec_digits(token, 2, 4) is not None:
            found_year = True
            year = (spec_digits(token, 2, 4) or (0, b""))[0]
            continue
    if 70 <= year <= 99:
        year += 1900
    if 0 <= year <= 69:
        year += 2000
    if not (found_time and found_day and found_month and found_year):
        return None
    if day < 1 or day > 31 or year < 1601 or hour > 23 or minute > 59 or second > 59:
        return None
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        return None


@dataclass
class SpecCookie:
    name: bytes
    value: bytes
    attributes: list[tuple[str, object]] = field(default_factory=list)

    def last(self, name: str) -> object:
        values = [value for key, value in self.attributes if key == name]
        return values[-1] if values else None

    def has(self, name: str) -> bool:
        return any(key == name for key, _ in self.attributes)


def spec_name_value(line: bytes) -> tuple[bytes, bytes]:
    """§5.6 steps 2-4, without step 1's control-character check."""
    pair = line[: line.index(b";")] if b";" in line else line
    if b"=" not in pair:
        name, value = b"", pair
    else:
        name, value = pair[: pair.index(b"=")], pair[pair.index(b"=") + 1 :]
    return name.strip(WSP), value.strip(WSP)


def spec_parse(line: bytes) -> SpecCookie | None:
    """§5.6 and the ignoring steps of §5.7; None when the line is ignored entirely."""
    if any(byte in CONTROLS for byte in line):
        return None
    name, value = spec_name_value(line)
    if len(name) + len(value) > 4096:
        return None
    if not name and not value:
        return None
    cookie = SpecCookie(name, value)
    unparsed = line[line.index(b";") :] if b";" in line else b""
    while unparsed:
        unparsed = unparsed[1:]  # the ";"
        if b";" in unparsed:
            cookie_av, unparsed = unparsed[: unparsed.index(b";")], unparsed[unparsed.index(b";") :]
        else:
            cookie_av, unparsed = unparsed, b""
        if b"=" in cookie_av:
            attribute_name = cookie_av[: cookie_av.index(b"=")]
            attribute_value = cookie_av[cookie_av.index(b"=") + 1 :]
        else:
            attribute_name, attribute_value = cookie_av, b""
        attribute_name = attribute_name.strip(WSP)
        attribute_value = attribute_value.strip(WSP)
        if len(attribute_value) > 1024:
            continue
        spec_attribute(cookie, attribute_name.lower(), attribute_value)
    return cookie


def spec_attribute(cookie: SpecCookie, name: bytes, value: bytes) -> None:
    if name == b"expires":  # §5.6.1
        moment = spec_cookie_date(value)
        if moment is not None:
            cookie.attributes.append(("expires", moment.timestamp()))
    elif name == b"max-age":  # §5.6.2
        if not value or (value[0] not in DIGITS and value[:1] != b"-"):
            return
        if any(byte not in DIGITS for byte in value[1:]):
            return
        if value == b"-":  # "converted to a base 10 integer": "-" alone converts to none
            return
        cookie.attributes.append(("max-age", int(value)))
    elif name == b"domain":  # §5.6.3
        if value:
            cookie.attributes.append(("domain", value))
    elif name == b"path":  # §5.6.4
        cookie.attributes.append(("path", value if value[:1] == b"/" else None))
    elif name in (b"secure", b"httponly", b"partitioned"):
        cookie.attributes.append((name.decode(), True))
    elif name == b"samesite":
        known = {b"none": "None", b"lax": "Lax", b"strict": "Strict"}
        cookie.attributes.append(("samesite", known.get(value.lower())))


def spec_deletes(line: bytes, now: float) -> bool:
    """§5.7: Max-Age, if any, sets the expiry, else Expires; an expired cookie is removed."""
    cookie = spec_parse(line)
    if cookie is None:
        return False
    if cookie.has("max-age"):
        max_age = cookie.last("max-age")
        assert isinstance(max_age, int)
        return max_age <= 0
    if cookie.has("expires"):
        expires = cookie.last("expires")
        assert isinstance(expires, float)
        return expires <= now
    return False


def spec_canonical(cookie: SpecCookie) -> bytes:
    """The canonical deletion the task defines, built from the reference's reading."""
    name = cookie.name
    folded = name.lower()
    parts = [name + b"=", b"Max-Age=0", b"Expires=" + EPOCH.encode()]
    if folded.startswith(b"__host-"):
        parts.append(b"Path=/")
    else:
        path, domain = cookie.last("path"), cookie.last("domain")
        if isinstance(path, bytes):
            parts.append(b"Path=" + path)
        if isinstance(domain, bytes):
            parts.append(b"Domain=" + domain)
    if cookie.has("secure") or folded.startswith((b"__secure-", b"__host-", b"__http-")):
        parts.append(b"Secure")
    if cookie.has("httponly") or folded.startswith((b"__http-", b"__host-http-")):
        parts.append(b"HttpOnly")
    if cookie.last("samesite") is not None:
        parts.append(b"SameSite=" + str(cookie.last("samesite")).encode())
    if cookie.has("partitioned"):
        parts.append(b"Partitioned")
    return b"; ".join(parts)


# Generated Set-Cookie lines.


def any_case(word: str) -> st.SearchStrategy[str]:
    def spell(flips: list[bool]) -> str:
        return "".join(c.upper() if up else c.lower() for c, up in zip(word, flips, strict=True))

    return st.lists(st.booleans(), min_size=len(word), max_size=len(word)).map(spell)


padding = st.sampled_from(["", "", " ", "  ", "\t", " \t"])
junk = st.text(alphabet=st.sampled_from("ab09 -+:,=\t/.\x80\xff"), max_size=12)

# Mostly valid parts, so that most generated dates name a moment, some of them not.
day_token = st.one_of(st.integers(1, 31), st.integers(1, 31), st.integers(0, 99)).flatmap(
    lambda d: st.sampled_from([str(d), f"{d:02d}"])
)
month_token = st.sampled_from(
    ["Jan", "feb", "MAR", "April", "May", "jun", "Jul", "aug", "Sept", "oct", "Nov", "dec", "Foo"]
)
year_token = st.one_of(
    st.integers(0, 99).map(lambda y: f"{y:02d}"),
    st.integers(2020, 2030).map(str),
    st.integers(1500, 2200).map(str),
    st.integers(100, 999).map(str),
)
hms = st.tuples(st.integers(0, 23), st.integers(0, 59), st.integers(0, 59))
time_token = st.one_of(hms, hms, st.tuples(*[st.integers(0, 61)] * 3)).flatmap(
    lambda hms: st.sampled_from(["{:02d}:{:02d}:{:02d}".format(*hms), "{}:{}:{}".format(*hms)])
)
zone_token = st.sampled_from(["GMT", "UTC", "+0100", "-2400", "+2359", "PST", "Z", ""])
weekday_token = st.sampled_from(["Thu,", "Sunday,", "wed", ""])
separator = st.sampled_from([" ", ", ", "-", "/", "  ", "\t"])


@st.composite
def cookie_dates(draw: st.DrawFn) -> str:
    """Dates shaped like Expires values, their parts in any order, with junk around them."""
    parts = [
        draw(weekday_token),
        draw(day_token),
        draw(month_token),
        draw(year_token),
        draw(time_token),
        draw(zone_token),
    ]
    if draw(st.integers(0, 3)) == 0:
        parts = draw(st.permutations(parts))
    if draw(st.integers(0, 3)) == 0:
        parts.insert(draw(st.integers(0, len(parts))), draw(junk))
    text = ""
    for part in parts:
        text += part + draw(separator)
    return text


max_age_value = st.one_of(
    st.sampled_from(["0", "-1", "-0", "-", "+5", "+0", "00", "", "abc", "0x10", "1e3", " 0 "]),
    st.sampled_from(["31536000", "100", "-99999999999999999999999", "99999999999999999999999"]),
    st.integers(-10, 10).map(str),
    st.sampled_from(["9" * 1025, "-" + "1" * 1023, "-" + "1" * 1024]),  # over 1024: ignored
)
attribute = st.one_of(
    st.tuples(any_case("Max-Age"), max_age_value),
    st.tuples(any_case("Max-Age"), max_age_value),
    st.tuples(any_case("Expires"), cookie_dates()),
    st.tuples(any_case("Expires"), cookie_dates()),
    st.tuples(any_case("Expires"), junk),
    st.tuples(any_case("Path"), st.sampled_from(["/", "/app", "app", "", "/a b"])),
    st.tuples(any_case("Domain"), st.sampled_from(["example.com", ".Example.com", ""])),
    st.tuples(any_case("SameSite"), st.sampled_from(["Lax", "none", "STRICT", "junk"])),
    st.tuples(st.sampled_from(["Secure", "httponly", "Partitioned", "Max-Age", "Expires"]), junk),
    st.tuples(junk, junk),
).map("=".join)
flag = st.sampled_from(["Secure", "HTTPONLY", "partitioned", "", "junk"])

cookie_name_text = st.one_of(
    st.sampled_from(["_ga", "_ga_XYZ", "_fbp", "session", "other", "mystery", "", "_GA", "_ga_;"]),
    st.sampled_from(PREFIXED),
    st.text(alphabet=st.sampled_from("_gaf b\t\xa0=;"), max_size=6),
)


@st.composite
def set_cookie_lines(draw: st.DrawFn) -> bytes:
    name = draw(padding) + draw(cookie_name_text) + draw(padding)
    value = draw(st.sampled_from(["", "x", "GA1.1", " v ", "a=b", '"q"']))
    line = name + ("" if draw(st.integers(0, 9)) == 0 else "=") + value
    for _ in range(draw(st.integers(0, 6))):
        line += ";" + draw(padding) + draw(st.one_of(attribute, flag)) + draw(padding)
    if draw(st.integers(0, 19)) == 0:  # now and then a control character
        at = draw(st.integers(0, len(line)))
        line = line[:at] + draw(st.sampled_from(["\x00", "\x01", "\x0b", "\r", "\x7f"])) + line[at:]
    return line.encode("latin-1")


# The properties.


@settings(max_examples=600)
@given(set_cookie_lines())
def test_deletion_is_decided_as_rfc_6265bis_decides(line: bytes) -> None:
    assert is_deletion(line, NOW) == spec_deletes(line, NOW)


@settings(max_examples=400)
@given(set_cookie_lines())
def test_the_name_and_attributes_are_read_as_rfc_6265bis_reads_them(line: bytes) -> None:
    cookie = parse_set_cookie(line)
    reference = spec_parse(line)
    assert set_cookie_name(line) == spec_name_value(line)[0]
    if reference is None:
        assert cookie is None
        return
    assert cookie is not None
    assert (cookie.name, cookie.value) == (reference.name, reference.value)
    assert cookie.path == reference.last("path")
    assert cookie.domain == reference.last("domain")
    assert cookie.secure == reference.has("secure")
    assert cookie.http_only == reference.has("httponly")
    assert cookie.partitioned == reference.has("partitioned")
    same_site = reference.last("samesite")
    assert cookie.same_site == (None if same_site is None else str(same_site).encode())


@settings(max_examples=600)
@given(set_cookie_lines())
def test_a_refused_cookie_passes_only_as_its_canonical_deletion(line: bytes) -> None:
    name = spec_name_value(line)[0].decode("latin-1")
    before = time.time()
    kept = policy().filter_headers([(b"set-cookie", line)], NECESSARY)
    after = time.time()
    deletes = spec_deletes(line, before)
    assume(deletes == spec_deletes(line, after))  # not an Expires within this very moment
    if not REFUSED_BY_DEFAULT.fullmatch(name):
        assert kept is None
        return
    reference = spec_parse(line)
    if not deletes or reference is None or not name:
        assert kept == []
        return
    canonical = spec_canonical(reference)
    assert kept == (None if canonical == line else [(b"set-cookie", canonical)])
    rewritten = spec_parse(canonical)
    assert rewritten is not None and rewritten.name == reference.name
    assert spec_deletes(canonical, 0.0)


@given(st.lists(set_cookie_lines(), max_size=6))
def test_the_filter_keeps_the_other_headers_in_order(lines: list[bytes]) -> None:
    headers = [(b"x-before", b"1")]
    for line in lines:
        headers += [(b"Set-Cookie", line), (b"x-between", line)]
    kept = policy().filter_headers(headers, NECESSARY)
    result = headers if kept is None else kept
    others = [header for header in headers if header[0] != b"Set-Cookie"]
    assert [header for header in result if header[0] != b"Set-Cookie"] == others
    assert policy().filter_headers(headers, EVERYTHING) is None


@given(st.lists(st.one_of(cookie_name_text, st.sampled_from(PREFIXED)), max_size=12))
def test_expirations_delete_each_refused_name_in_a_form_browsers_accept(names: list[str]) -> None:
    revoker = prefixed_policy(
        revoke_cookie_paths=["/", "/app"], revoke_cookie_domains=[".example.com"]
    )
    refused = {
        name
        for name in names
        if name.strip(" ") == name
        and name
        and not re.search(r"[\x00-\x1f\x7f;=]", name)
        and revoker.category_of(name) in ("analytics", "marketing")
    }
    expired = set()
    for value in revoker.expirations(names, NECESSARY):
        cookie = spec_parse(value.encode("latin-1"))
        assert cookie is not None and spec_deletes(value.encode("latin-1"), 0.0)
        expired.add(cookie.name.decode("latin-1"))
        folded = cookie.name.lower()
        if folded.startswith((b"__secure-", b"__host-", b"__http-")):
            assert cookie.has("secure")
        if folded.startswith((b"__http-", b"__host-http-")):
            assert cookie.has("httponly")
        if folded.startswith(b"__host-"):
            assert cookie.last("path") == b"/" and not cookie.has("domain")
    assert expired == refused


# Examples.


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


CANONICAL = b"_ga=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT"


@pytest.mark.parametrize(
    ("value", "sent"),
    [
        (b"_ga=; Max-Age=0", CANONICAL),
        (b"_ga=; max-age=-1; Path=/", CANONICAL + b"; Path=/"),
        (b"_ga=; Expires=Thu, 01 Jan 1970 00:00:00 GMT", CANONICAL),
        (b"_ga=x; expires=Wed, 21 Oct 2015 07:28:00 GMT; Path=/", CANONICAL + b"; Path=/"),
        (b"_ga=x; Max-Age=0; Max-Age=abc", CANONICAL),  # abc is ignored; Chromium took it
        (b"_ga=x; Expires=Wed, 21 Oct 2099 07:28:00 GMT; MAX-AGE=0", CANONICAL),
        (b"_ga=x; Max-Age=0; Path=/a; Path=b", CANONICAL),  # the last Path is the default
        (
            b"_ga=x; Max-Age=0; Domain=a.example; Domain=; Path=/p; SameSite=lax; Partitioned",
            CANONICAL + b"; Path=/p; Domain=a.example; SameSite=Lax; Partitioned",
        ),
        (b"__Secure-x=1; Max-Age=0", b"__Secure-x" + CANONICAL[3:] + b"; Secure"),
        (
            b"__Host-y=1; Max-Age=0; Path=/a; Domain=example.com",
            b"__Host-y" + CANONICAL[3:] + b"; Path=/; Secure",
        ),
        (b"__Http-z=1; Max-Age=0", b"__Http-z" + CANONICAL[3:] + b"; Secure; HttpOnly"),
        (b"_ga=x; Max-Age=0; HttpOnly; secure", CANONICAL + b"; Secure; HttpOnly"),
        (b"_ga=x; Max-Age=0; Max-Age=" + b"9" * 1025, CANONICAL),  # a value over 1024: ignored
        (b"_ga=" + b"x" * 4093 + b"; Max-Age=0", CANONICAL),
    ],
)
def test_a_refused_deletion_is_sent_as_the_canonical_deletion(value: bytes, sent: bytes) -> None:
    assert is_deletion(value)
    assert prefixed_policy().filter_headers([(b"set-cookie", value)], NECESSARY) == [
        (b"set-cookie", sent)
    ]


def test_the_canonical_deletion_itself_passes_unchanged() -> None:
    line = CANONICAL + b"; Path=/app"
    assert policy().filter_headers([(b"set-cookie", line)], NECESSARY) is None


@pytest.mark.parametrize(
    "value",
    [
        b"_ga=x",
        b"_ga=x; Max-Age=10",
        b"_ga=x; Max-Age=",
        b"_ga=x; Max-Age=+0",  # not "-" then digits: ignored, so a session cookie
        b"_ga=x; Max-Age=-",
        b"_ga=x; Expires=Wed, 21 Oct 2099 07:28:00 GMT",
        b"_ga=x; Expires=garbage",
        b"_ga=x; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=100",
        # Browsers use the last Max-Age: Python's first-wins reading stored _ga for a year.
        b"_ga=x; Max-Age=0; Max-Age=31536000",
        b"_ga=x; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; max-age=31536000",
        # Two-digit years 0-69 are 20xx in a browser (email.utils reads 69 as 1969).
        b"_ga=x; Expires=Wed, 01 Jan 69 00:00:00 GMT",
        b"_ga=x; Expires=01-Jan-50 00:00:00",
        # Invalid dates are ignored rather than read as the past.
        b"_ga=x; Expires=Thu, 01 Jan 1600 00:00:00 GMT",
        b"_ga=x; Expires=Sat, 31 Feb 1970 00:00:00 GMT",
        b"_ga=x; Expires=Thu, 01 Jan 1970 24:00:00 GMT",
        # A control character: the browser ignores the line, which deletes nothing.
        b"_ga=x\x01; Max-Age=0",
        # A name and value over 4096 bytes: ignored too.
        b"_ga=" + b"x" * 4094 + b"; Max-Age=0",
    ],
)
def test_not_deletions(value: bytes) -> None:
    assert not is_deletion(value)
    assert policy().filter_headers([(b"set-cookie", value)], NECESSARY) == []


def test_a_time_zone_offset_is_ignored_as_browsers_ignore_it() -> None:
    soon = datetime.now(UTC) + timedelta(hours=12)
    date = soon.strftime("%a, %d %b %Y %H:%M:%S") + " +2359"
    assert parsedate_to_datetime(date) < datetime.now(UTC)  # what email.utils made of it
    assert not is_deletion(b"_ga=x; Expires=" + date.encode())


@pytest.mark.parametrize(
    ("text", "moment"),
    [
        ("Wed, 21 Oct 2015 07:28:00 GMT", datetime(2015, 10, 21, 7, 28, tzinfo=UTC)),
        ("Sun Nov  6 08:49:37 1994", datetime(1994, 11, 6, 8, 49, 37, tzinfo=UTC)),
        ("Sunday, 06-Nov-94 08:49:37 GMT", datetime(1994, 11, 6, 8, 49, 37, tzinfo=UTC)),
        ("6 november 1994 8:9:7 +0100", datetime(1994, 11, 6, 8, 9, 7, tzinfo=UTC)),
        ("1994 08:49:37 Nov 06", datetime(1994, 11, 6, 8, 49, 37, tzinfo=UTC)),
        ("01 Jan 69 00:00:00", datetime(2069, 1, 1, tzinfo=UTC)),
        ("01 Jan 70 00:00:00", datetime(1970, 1, 1, tzinfo=UTC)),
        ("29 Feb 2024 23:59:59", datetime(2024, 2, 29, 23, 59, 59, tzinfo=UTC)),
        ("29 Feb 2023 00:00:00", None),
        ("32 Jan 2020 00:00:00", None),
        ("01 Jan 2020 00:60:00", None),
        ("01 Jan 2020", None),
        ("01 Jan 1601 00:00:00", datetime(1601, 1, 1, tzinfo=UTC)),
        ("31 Dec 1600 23:59:59", None),
        ("", None),
    ],
)
def test_cookie_dates(text: str, moment: datetime | None) -> None:
    expected = None if moment is None else moment.timestamp()
    assert parse_cookie_date(text.encode()) == expected
    reference = spec_cookie_date(text.encode())
    assert (None if reference is None else reference.timestamp()) == expected


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        (b"_ga =x", False),  # spaces and tabs around the name are not part of it
        (b"_ga\t=x", False),
        (b"_ga\xa0=x", True),  # NBSP is part of it: an undeclared name
        (b"_ga\x0b=x", True),  # a control character: undeclared (and ignored by browsers)
        (b"_ga; Max-Age=31536000", True),  # no "=": an empty name, the value "_ga"
        (b"=_ga", True),
        (b"session; _ga=x", True),  # the name-value pair ends at the first ";"
        (b"other=1; _ga=x", True),
        (b"_ga_;x=1", True),  # the ";" ends the pair before any "=": an empty name
    ],
)
def test_the_name_is_the_one_a_browser_reads(value: bytes, kept: bool) -> None:
    assert (policy().filter_headers([(b"set-cookie", value)], NECESSARY) is None) is kept
    blocker = policy(undeclared_cookies="block")
    assert blocker.filter_headers([(b"set-cookie", value)], EVERYTHING) == ([] if kept else None)


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


def test_expirations_of_prefixed_cookies_carry_what_browsers_require() -> None:
    revoker = prefixed_policy(
        revoke_cookie_domains=[".example.com"], revoke_cookie_paths=["/", "/app"]
    )
    values = revoker.expirations(["__Secure-x", "__Host-y", "__Http-z"], NECESSARY)
    deletion = "=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT"
    assert values == [
        f"__Secure-x{deletion}; Path=/; Secure",
        f"__Secure-x{deletion}; Path=/; Domain=.example.com; Secure",
        f"__Secure-x{deletion}; Path=/app; Secure",
        f"__Secure-x{deletion}; Path=/app; Domain=.example.com; Secure",
        f"__Host-y{deletion}; Path=/; Secure",
        f"__Http-z{deletion}; Path=/; Secure; HttpOnly",
        f"__Http-z{deletion}; Path=/; Domain=.example.com; Secure; HttpOnly",
        f"__Http-z{deletion}; Path=/app; Secure; HttpOnly",
        f"__Http-z{deletion}; Path=/app; Domain=.example.com; Secure; HttpOnly",
    ]


def test_expirations_never_log(caplog: pytest.LogCaptureFixture) -> None:
    warner = policy(undeclared_cookies="warn")
    with caplog.at_level(logging.DEBUG, logger="consent"):
        assert warner.expirations(["mystery", "other", "_ga"], NECESSARY) == [
            "_ga=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/"
        ]
    assert caplog.records == []


def test_expirations_are_bounded_and_declared_names_come_first() -> None:
    blocker = policy(undeclared_cookies="block")
    names = [f"junk{index}" for index in range(5000)] + ["_ga", "_fbp"]
    values = blocker.expirations(names, NECESSARY)
    assert len(values) == MAX_REVOKED_NAMES
    assert values[0].startswith("_ga=") and values[1].startswith("_fbp=")


def test_expirations_skip_names_no_header_can_carry() -> None:
    blocker = policy(undeclared_cookies="block")
    assert blocker.expirations(["", "a\x01b", "x" * 5000, "a\rb"], NECESSARY) == []


def test_category_caches_keep_only_short_names() -> None:
    checker = policy()
    long_name = "_ga_" + "x" * CACHED_NAME_LENGTH
    for index in range(50):
        assert checker.category_of(f"{long_name}{index}") == "analytics"
        line = f"{long_name}{index}=1".encode()
        assert checker.filter_headers([(b"set-cookie", line)], NECESSARY) == []
    assert checker._cached_category_of.cache_info().currsize == 0
    assert checker._cached_category_of_bytes.cache_info().currsize == 0
    assert checker.category_of("_ga_short") == "analytics"
    assert checker._cached_category_of.cache_info().currsize == 1


def test_long_undeclared_names_are_warned_about_once(caplog: pytest.LogCaptureFixture) -> None:
    warner = policy(undeclared_cookies="warn")
    long_name = "m" * (CACHED_NAME_LENGTH * 4)
    with caplog.at_level(logging.WARNING, logger="consent"):
        for _ in range(3):
            assert warner.allows(long_name, NECESSARY)
    assert len(caplog.records) == 1
    assert len(caplog.records[0].getMessage()) < CACHED_NAME_LENGTH + 100
