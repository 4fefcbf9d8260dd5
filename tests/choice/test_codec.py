"""The signed consent cookie: compact, rotated keys, a server-enforced lifetime, never trusted."""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from itsdangerous import TimestampSigner

from consent.choice.codec import MAX_COOKIE_LENGTH, SALT, ConsentCodec, new_consent_id
from consent.visitor import Site, _cookie_reader
from tests.support import make_settings

ALL = frozenset({"analytics", "marketing"})


def codec(**overrides: object) -> ConsentCodec:
    return ConsentCodec(make_settings(**overrides))


def test_round_trip_keeps_every_field() -> None:
    signer = codec()
    record, value = signer.decide(frozenset({"analytics"}), "banner")
    state = signer.state(value)
    assert state.decided
    assert state.granted == {"necessary", "analytics"}
    assert state.allows("analytics") and state.allows("necessary") and not state.allows("marketing")
    assert state.revision == 1
    assert state.consent_id == record.consent_id and len(record.consent_id) == 16
    assert state.source == "banner"
    assert abs(state.last_decided - time.time()) < 5  # type: ignore[operator]
    assert state.first_decided == record.first_decided


def test_cookie_is_compact_and_cookie_safe() -> None:
    _, value = codec().decide(ALL, "api")
    assert len(value) < 200
    assert all(33 <= ord(char) <= 126 and char not in ',;"\\' for char in value)


def test_required_categories_are_never_stored_but_always_granted() -> None:
    signer = codec()
    record, value = signer.decide(frozenset({"necessary"}), "banner")
    assert record.granted == frozenset()
    assert signer.state(value).granted == {"necessary"}


def test_a_new_decision_keeps_the_consent_id_and_first_time() -> None:
    signer = codec()
    first, _ = signer.decide(ALL, "banner")
    second, value = signer.decide(frozenset(), "api", previous=first)
    assert second.consent_id == first.consent_id
    assert second.first_decided == first.first_decided
    assert signer.state(value).granted == {"necessary"}


def test_key_rotation_old_keys_verify_newest_signs() -> None:
    old = codec(secret_keys=["old-key"])
    _, old_value = old.decide(ALL, "banner")
    rotated = codec(secret_keys=["new-key", "old-key"])
    assert rotated.state(old_value).decided
    _, new_value = rotated.decide(ALL, "banner")
    assert not old.state(new_value).decided
    assert codec(secret_keys=["new-key"]).state(new_value).decided
    assert not codec(secret_keys=["new-key"]).state(old_value).decided


def test_lifetime_is_enforced_by_the_server(monkeypatch: pytest.MonkeyPatch) -> None:
    signer = codec(consent_max_age_days=1)
    _, value = signer.decide(ALL, "banner")
    assert signer.state(value).decided  # now cached as verified
    later = time.time() + 86400 + 5
    monkeypatch.setattr(time, "time", lambda: later)
    assert not signer.state(value).decided
    assert not codec(consent_max_age_days=1).state(value).decided


def test_a_cached_visitor_loses_its_consent_when_the_lifetime_ends(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    site = Site(make_settings(consent_max_age_days=1))
    assert site.codec is not None
    _, value = site.codec.decide(ALL, "banner")
    headers = [(b"cookie", f"consent={value}".encode()), (b"sec-gpc", b"1")]
    visitor = site.visitor_by_headers(headers)
    assert visitor.consent.decided
    assert visitor.consent.gpc  # the signal is recorded beside the decision
    later = time.time() + 86400 + 5
    monkeypatch.setattr(time, "time", lambda: later)
    assert site.visitor_by_headers(headers) is visitor  # still cached: the clock decides
    assert not visitor.consent.decided
    assert visitor.consent is site.codec.undecided_gpc
    assert site.visitor_by_headers(headers[:1]).consent is site.codec.undecided


def test_raising_the_revision_asks_again() -> None:
    _, value = codec(revision=1).decide(ALL, "banner")
    assert codec(revision=1).state(value).decided
    assert not codec(revision=2).state(value).decided


def test_removed_category_is_dropped() -> None:
    _, value = codec().decide(ALL, "banner")
    narrower = codec(
        categories={
            "necessary": {"label": "N", "required": True},
            "analytics": {"label": "A"},
        }
    )
    assert narrower.state(value).granted == {"necessary", "analytics"}


@pytest.mark.parametrize(
    "value",
    [
        "",
        "garbage",
        "1:analytics:abc:1:b",
        "1:analytics:abc:1:b.AAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "\x00\xff",
        "x" * (MAX_COOKIE_LENGTH + 1),
    ],
)
def test_garbage_is_undecided(value: str) -> None:
    state = codec().state(value)
    assert not state.decided
    assert state.granted == {"necessary"}


def test_other_base64_spellings_of_the_signature_are_refused() -> None:
    signer = codec()
    for _ in range(20):
        _, value = signer.decide(ALL, "banner")
        signature_at = value.rindex(".") + 1
        spelled = value[:signature_at] + value[signature_at:].replace("_", "/").replace("-", "+")
        if spelled != value:
            assert signer.state(value).decided
            assert not signer.state(spelled).decided
            return
    pytest.fail("no signature with '_' or '-' in 20 tries")


def test_tampered_payload_is_refused() -> None:
    _, value = codec().decide(frozenset(), "banner")
    payload, rest = value.split(":", 1)
    forged = value.replace("1::", "1:analytics.marketing:", 1)
    assert forged != value
    assert not codec().state(forged).decided
    assert payload == "1" and rest


def test_gpc_without_decision_refuses_optional_categories() -> None:
    state = codec().state(None, gpc=True)
    assert not state.decided and state.gpc and state.source == "gpc"
    assert state.granted == {"necessary"}


def test_explicit_choice_overrides_gpc() -> None:
    signer = codec()
    _, value = signer.decide(ALL, "banner")
    state = signer.state(value, gpc=True)
    assert state.decided and state.gpc and state.source == "banner"
    assert state.allows("analytics")


def test_verification_cache_is_bounded() -> None:
    signer = codec(consent_cache_size=8)
    for number in range(50):
        signer.state(f"junk-{number}")
    assert signer.cache_info().currsize <= 8


def test_as_json() -> None:
    signer = codec()
    _, value = signer.decide(frozenset({"marketing"}), "api")
    data = signer.state(value).as_json(("necessary", "analytics", "marketing"))
    assert data["decided"] is True
    assert data["categories"] == {"necessary": True, "analytics": False, "marketing": True}
    assert data["revision"] == 1 and data["source"] == "api"


@settings(max_examples=300)
@given(st.text(max_size=300))
def test_random_values_are_never_accepted_and_never_raise(value: str) -> None:
    assert not codec().state(value).decided


@settings(max_examples=300)
@given(st.integers(0, 200), st.characters(min_codepoint=33, max_codepoint=126))
def test_one_changed_character_never_changes_the_decision(position: int, replacement: str) -> None:
    signer = codec()
    record, value = signer.decide(frozenset({"analytics"}), "banner")
    index = position % len(value)
    changed = value[:index] + replacement + value[index + 1 :]
    state = signer.state(changed)
    if state.decided:
        # base64 ignores the unused low bits of the signature's last character: the same
        # signature over the same payload. Nothing was forged, and nothing else verifies.
        assert index == len(value) - 1 or changed == value
        assert state.granted == {"necessary", "analytics"}
        assert state.consent_id == record.consent_id


def test_keys_are_derived_once_and_sign_as_itsdangerous_does() -> None:
    rotated = codec(secret_keys=["new-key", "old-key"])
    plain = TimestampSigner(["old-key", "new-key"], salt=SALT, digest_method=hashlib.sha256)
    _, old_value = codec(secret_keys=["old-key"]).decide(ALL, "banner")
    for _ in range(3):
        _, value = rotated.decide(ALL, "banner")
        assert plain.unsign(value) and rotated.state(value).decided
        assert rotated.state(old_value + "x") == rotated.undecided  # tries every key
        rotated._verify.cache_clear()
        assert rotated.state(old_value).decided
    derived = rotated._signer._derived
    assert set(derived) == {None, b"old-key", b"new-key"}
    assert derived[None] == plain.derive_key() == derived[b"new-key"]


# --- reading one cookie out of a raw Cookie header --------------------------------------------


def _reference_reader(name: str) -> Callable[[bytes], bytes | None]:
    """The definition the reader follows, as one regular expression."""
    pattern = re.compile(rb"(?:^|;)[ \t]*" + re.escape(name.encode("latin-1")) + rb"=([^;]*)")

    def read(header: bytes) -> bytes | None:
        found = pattern.search(header)
        return found[1].strip(b' \t"') if found else None

    return read


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (b"consent=abc", b"abc"),
        (b"a=1; consent=abc; b=2", b"abc"),
        (b"a=1;consent=abc", b"abc"),
        (b'a=1; \t consent="abc" ', b"abc"),
        (b"xconsent=1; consent=2", b"2"),
        (b"a=consent=1; consent=2", b"2"),
        (b"consent=1; consent=2", b"1"),
        (b"consent=", b""),
        (b"a=1 consent=2", None),
        (b"consents=1", None),
        (b"", None),
    ],
)
def test_cookie_reader_finds_the_first_cookie_of_that_name(
    header: bytes, expected: bytes | None
) -> None:
    assert _cookie_reader("consent")(header) == expected
    assert _reference_reader("consent")(header) == expected


_COOKIE_PIECES = st.sampled_from(
    [b"consent", b"consent=", b"=", b";", b"; ", b" ", b"\t", b'"', b"a", b"x=1", b"\xff"]
)


@given(st.lists(_COOKIE_PIECES, max_size=24).map(b"".join))
@settings(max_examples=400, deadline=None)
def test_cookie_reader_agrees_with_its_regular_expression(header: bytes) -> None:
    assert _cookie_reader("consent")(header) == _reference_reader("consent")(header)


def test_cookie_reader_skips_near_misses_to_the_real_cookie() -> None:
    header = (b"  xconsent=" * 2000) + b"; consent=found"
    assert _cookie_reader("consent")(header) == b"found"


def test_a_new_consent_id_never_starts_with_a_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    """A command line would take it for an option (``consent records show ID``)."""
    drawn = iter(["-rYDgXLsR2hh0K0A", "--YDgXLsR2hh0K0A", "xrYDgXLsR2hh0K0A"])
    monkeypatch.setattr(secrets, "token_urlsafe", lambda size: next(drawn))
    assert new_consent_id() == "xrYDgXLsR2hh0K0A"
