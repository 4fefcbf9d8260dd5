"""Records and wordings: address reduction, field caps, fingerprints and JSON round trips."""

from __future__ import annotations

import ipaddress
import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consent.records import DecisionRecord, OfferedCategory, Wording, reduce_address
from consent.records.model import (
    IP_POLICIES,
    MAX_CATEGORIES,
    MAX_PATH_LENGTH,
    MAX_USER_AGENT_LENGTH,
    _categories,
    _sorted_categories,
    clean_field,
    clean_text,
    slow_clean_field,
    slow_clean_text,
    slow_reduce_address,
)
from tests.records.helpers import CATEGORIES, WORDING_EN, make_record

ipv4 = st.ip_addresses(v=4)
ipv6 = st.ip_addresses(v=6)


# --- client addresses ---------------------------------------------------------------------


@given(ipv4, st.integers(0, 255))
def test_truncated_ipv4_keeps_the_24_bit_network_and_nothing_below(
    address: ipaddress.IPv4Address, low: int
) -> None:
    kept = reduce_address(str(address), "truncated")
    assert kept is not None
    network = ipaddress.ip_network(kept)
    assert network.prefixlen == 24
    assert address in network
    neighbour = ipaddress.IPv4Address(int(address) & ~0xFF | low)
    assert reduce_address(str(neighbour), "truncated") == kept


@given(ipv6, st.integers(0, 2**80 - 1))
def test_truncated_ipv6_keeps_the_48_bit_network_and_nothing_below(
    address: ipaddress.IPv6Address, low: int
) -> None:
    if address.ipv4_mapped is not None:
        return  # treated as IPv4: the next test
    kept = reduce_address(str(address), "truncated")
    assert kept is not None
    network = ipaddress.ip_network(kept)
    assert network.prefixlen == 48
    assert address in network
    neighbour = ipaddress.IPv6Address(int(address) & ~(2**80 - 1) | low)
    if neighbour.ipv4_mapped is None:
        assert reduce_address(str(neighbour), "truncated") == kept


@given(ipv4)
def test_an_ipv4_mapped_address_is_reduced_as_the_ipv4_one(address: ipaddress.IPv4Address) -> None:
    mapped = f"::ffff:{address}"
    assert reduce_address(mapped, "truncated") == reduce_address(str(address), "truncated")
    assert reduce_address(mapped, "full") == str(address)


@given(st.one_of(ipv4, ipv6))
def test_full_keeps_the_address_and_none_keeps_nothing(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> None:
    full = reduce_address(str(address), "full")
    assert full is not None
    expected = getattr(address, "ipv4_mapped", None) or address
    assert ipaddress.ip_address(full) == expected
    assert reduce_address(str(address), "none") is None


@given(st.text(max_size=80))
def test_anything_that_is_not_an_address_is_not_kept(value: str) -> None:
    for policy in ("truncated", "full"):
        kept = reduce_address(value, policy)
        if kept is not None:
            ipaddress.ip_network(kept)  # a network or an address, nothing else


#: Octets of dotted quads, and others that nearly are: leading zeros, past 255, other digits
#: than ASCII ones, signs, spaces, separators.
GOOD_OCTETS = ("0", "1", "9", "10", "99", "100", "199", "200", "249", "250", "255")
BAD_OCTETS = (
    *("00", "01", "007", "256", "260", "300", "999", "1000", "", " 1", "1 ", "+1", "0x1"),
    *("1_0", "\u0663", "1\u0663", "\uff11", "\u00b9", "\U0001d7d9", "1\n"),
)


@st.composite
def near_quad(draw: st.DrawFn) -> str:
    """Four good octets, one of them perhaps replaced by a bad one, perhaps one more or one
    less octet, perhaps something around it."""
    octets = draw(st.lists(st.sampled_from(GOOD_OCTETS), min_size=4, max_size=4))
    if draw(st.booleans()):
        octets[draw(st.integers(0, 3))] = draw(st.sampled_from(BAD_OCTETS))
    size = draw(st.sampled_from([4, 4, 4, 3, 5]))
    octets = [*octets, "1"][:size]
    around = st.sampled_from(["", "", " ", "\t", "0", ":80", ".", "\n"])
    return draw(around) + ".".join(octets) + draw(around)


near_quads = st.one_of(
    near_quad(),
    st.lists(st.integers(0, 300).map(str), min_size=4, max_size=4).map(".".join),
)


@given(st.one_of(near_quads, ipv4.map(str), ipv6.map(str), st.text(max_size=50)))
def test_the_ipv4_shortcut_reduces_as_ipaddress_does(value: str) -> None:
    for policy in IP_POLICIES:
        assert reduce_address(value, policy) == slow_reduce_address(value, policy)


def test_the_ipv4_shortcut_agrees_for_every_bad_octet_anywhere() -> None:
    for position in range(4):
        for octet in (*BAD_OCTETS, *GOOD_OCTETS):
            octets = ["192", "0", "2", "77"]
            octets[position] = octet
            for around in ("", " ", "\t", ":80", ".", "0"):
                value = ".".join(octets) + around
                for policy in IP_POLICIES:
                    assert reduce_address(value, policy) == slow_reduce_address(value, policy)


def test_examples_of_each_policy() -> None:
    assert reduce_address("192.0.2.77", "truncated") == "192.0.2.0/24"
    assert reduce_address("2001:db8:1:2:3::9", "truncated") == "2001:db8:1::/48"
    assert reduce_address("unix:/run/app.sock", "truncated") is None
    assert reduce_address(None, "full") is None
    record = make_record(1)
    assert record.client_address == "198.51.100.0/24"


# --- field caps and odd bytes -----------------------------------------------------------


@given(st.one_of(st.text(), st.binary()), st.integers(1, 600))
def test_a_cleaned_field_is_bounded_printable_utf8_and_stable(
    value: str | bytes, limit: int
) -> None:
    cleaned = clean_field(value, limit)
    assert len(cleaned) <= limit
    cleaned.encode("utf-8")  # no lone surrogate: every database stores it
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in cleaned)
    assert clean_field(cleaned, limit) == cleaned


@given(
    st.one_of(
        st.text(),
        st.binary(),
        st.from_regex(r"[ -~]*", fullmatch=True),
        st.from_regex(rb"[\x00-\x7f]*", fullmatch=True),
    ),
    st.integers(1, 99),
)
def test_the_clean_shortcut_gives_what_the_full_cleaning_gives(
    value: str | bytes, limit: int
) -> None:
    assert clean_field(value, limit) == slow_clean_field(value, limit)
    assert clean_text(value, limit) == slow_clean_text(value, limit)


@given(st.text())
def test_a_cleaned_text_keeps_its_line_breaks_and_printable_text(value: str) -> None:
    cleaned = clean_text(value, 10_000)
    cleaned.encode("utf-8")
    assert cleaned.count("\n") == value.count("\n")
    if value.isprintable():
        assert cleaned == value


def test_a_huge_user_agent_and_odd_bytes_are_cut_and_escaped_never_refused() -> None:
    record = DecisionRecord.create(
        consent_id="abc\x00def",
        action="accept_all",
        granted=["necessary"],
        refused=[],
        revision=3,
        source="api",
        wording=WORDING_EN,
        path=b"/caf\xc3\xa9/\xff\xfe?\r\n",
        user_agent=b"Mozilla/5.0 " + b"\xff" * 100_000,
        client_address="not an address",
    )
    assert record.consent_id == "abc\\x00def"
    assert record.path == "/café/\\xff\\xfe?\\x0d\\x0a"
    assert record.user_agent.startswith("Mozilla/5.0 \\xff\\xff")
    assert len(record.user_agent) == MAX_USER_AGENT_LENGTH
    assert record.client_address is None
    long_path = DecisionRecord.create(
        consent_id="x",
        action="save",
        granted=[],
        refused=[],
        revision=0,
        source="banner",
        wording=WORDING_EN,
        path="/" + "a" * 5000,
        user_agent="\ud800 lone surrogate",
        client_address=None,
    )
    assert len(long_path.path) == MAX_PATH_LENGTH
    assert long_path.user_agent == "\\ud800 lone surrogate"


def test_a_wrong_action_source_revision_or_naive_time_is_a_programming_error() -> None:
    fields = make_record(1)
    with pytest.raises(ValueError, match="action"):
        DecisionRecord.create(**_create_arguments(fields, action="maybe"))
    with pytest.raises(ValueError, match="source"):
        DecisionRecord.create(**_create_arguments(fields, source="email"))
    with pytest.raises(ValueError, match="revision"):
        DecisionRecord.create(**_create_arguments(fields, revision=-1))
    with pytest.raises(ValueError, match="time zone"):
        DecisionRecord.create(**_create_arguments(fields, recorded_at=datetime(2024, 1, 1)))


def _create_arguments(record: DecisionRecord, **changes: Any) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "consent_id": record.consent_id,
        "action": record.action,
        "granted": record.granted,
        "refused": record.refused,
        "revision": record.revision,
        "source": record.source,
        "wording": record.wording,
        "path": record.path,
        "user_agent": record.user_agent,
        "client_address": None,
    }
    arguments.update(changes)
    return arguments


def test_time_is_kept_in_utc_to_the_microsecond() -> None:
    paris = timezone(timedelta(hours=2))
    moment = datetime(2024, 5, 1, 11, 30, 0, 123456, tzinfo=paris)
    record = DecisionRecord.create(**_create_arguments(make_record(0), recorded_at=moment))
    assert record.recorded_at == datetime(2024, 5, 1, 9, 30, 0, 123456, tzinfo=UTC)
    assert record.recorded_at.tzinfo is UTC


# --- wordings -------------------------------------------------------------------------------

texts = st.dictionaries(st.text(min_size=1, max_size=20), st.text(max_size=200), max_size=8)
categories = st.lists(
    st.builds(
        OfferedCategory, st.text(max_size=12), st.text(max_size=30), st.text(), st.booleans()
    ),
    max_size=5,
)


@given(st.text(max_size=10), texts, categories)
def test_a_wording_survives_its_canonical_json(
    language: str, wording_texts: dict[str, str], offered: list[OfferedCategory]
) -> None:
    wording = Wording.build(language, wording_texts, offered)
    again = Wording.from_canonical(wording.canonical)
    assert again == wording
    assert again.fingerprint == wording.fingerprint
    assert json.loads(wording.canonical)["language"] == wording.language


@given(texts)
def test_the_fingerprint_ignores_the_order_texts_are_given_in(
    wording_texts: dict[str, str],
) -> None:
    forward = Wording.build("en", wording_texts, CATEGORIES)
    backward = Wording.build("en", dict(reversed(list(wording_texts.items()))), CATEGORIES)
    assert forward.fingerprint == backward.fingerprint


def test_the_fingerprint_changes_with_any_text_the_language_or_the_categories() -> None:
    base = dict(WORDING_EN.texts)
    variants = [
        Wording.build("en", base | {"banner.title": "We use cookies!"}, CATEGORIES),
        Wording.build("en-GB", base, CATEGORIES),
        Wording.build("en", base, CATEGORIES[:2]),
        Wording.build("en", base, (*CATEGORIES[:2], OfferedCategory("marketing", "Ads"))),
    ]
    fingerprints = {WORDING_EN.fingerprint, *(variant.fingerprint for variant in variants)}
    assert len(fingerprints) == 5
    assert len(WORDING_EN.fingerprint) == 64


record_ids = st.uuids()
moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)


@given(record_ids, moments, st.text(max_size=30), st.binary(max_size=300), st.text(max_size=50))
def test_a_record_survives_its_json_form(
    record_id: uuid.UUID, moment: datetime, consent_id: str, agent: bytes, path: str
) -> None:
    record = DecisionRecord.create(
        consent_id=consent_id,
        action="withdraw",
        granted=["necessary"],
        refused=["analytics", "marketing"],
        revision=7,
        source="settings page",
        wording=WORDING_EN,
        path=path,
        user_agent=agent,
        client_address="2001:db8::1",
        record_id=record_id,
        recorded_at=moment,
    )
    line = json.dumps(record.as_json(), ensure_ascii=False)
    assert DecisionRecord.from_json(json.loads(line)) == record
    # The spool's line, with the wording's JSON spliced in, says the same.
    assert json.loads(record.json_line()) == record.as_json()


@given(st.text(max_size=10), texts, categories)
def test_a_wording_from_the_cache_is_the_wording_built_anew(
    language: str, wording_texts: dict[str, str], offered: list[OfferedCategory]
) -> None:
    wording = Wording.build(language, wording_texts, offered)
    document = json.loads(wording.canonical)
    for _ in range(2):  # built, then found in the cache
        cached = Wording.from_document(document)
        assert cached == wording
        assert cached.canonical == wording.canonical
        assert cached.fingerprint == wording.fingerprint


@given(st.frozensets(st.text(max_size=70), max_size=MAX_CATEGORIES + 5))
def test_a_set_of_categories_is_kept_as_any_iterable_of_them_is(names: frozenset[str]) -> None:
    """Frozensets (a decision's granted and refused categories) are cleaned and sorted once and
    kept: what they give is what the same names in a list give."""
    assert _categories(names) == _sorted_categories(list(names))
    assert _categories(names) == _categories(names)
