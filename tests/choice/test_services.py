"""Services inside categories: their settings, their place in the signed cookie, enforcement per
service, the API's service switches, what the app reads, and the records."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consent.choice.codec import ConsentCodec
from consent.choice.enforcement import CookiePolicy
from consent.page.i18n import Catalog
from consent.records.model import MAX_CATEGORIES, MAX_CATEGORY_NAME_LENGTH, Wording
from consent.records.recorder import DecisionRecorder
from consent.settings import (
    MAX_CHOICE_NAMES_LENGTH,
    MAX_OFFERED_ITEMS,
    ConfigurationError,
    ConsentSettings,
)
from tests.support import CHROME, client, make_settings, page_app

SAME_ORIGIN = {"origin": "http://localhost", "user-agent": CHROME}

CATEGORIES: dict[str, Any] = {
    "necessary": {"label": "Necessary", "required": True, "cookies": ["session"]},
    "analytics": {
        "label": "Analytics",
        "cookies": ["_ga"],
        "services": {
            "matomo": {"label": "Matomo", "cookies": ["_pk_id*", "_pk_ses*"]},
            "hotjar": {"label": "Hotjar", "description": "Heatmaps.", "cookies": ["_hjid"]},
        },
    },
    "marketing": {"label": "Marketing", "cookies": ["_fbp"]},
}
ANALYTICS = frozenset({"analytics", "analytics.matomo", "analytics.hotjar"})
EVERYTHING = ANALYTICS | {"marketing"}

#: Ten services a site might well have, under names of the length such names have.
TEN_SERVICES: dict[str, Any] = {
    "necessary": {"label": "Necessary", "required": True},
    "analytics": {
        "label": "Analytics",
        "services": {
            name: {"label": name}
            for name in ("google-analytics", "matomo", "hotjar", "plausible", "clarity")
        },
    },
    "marketing": {
        "label": "Marketing",
        "services": {
            name: {"label": name}
            for name in ("facebook-pixel", "google-ads", "linkedin", "tiktok", "youtube")
        },
    },
}
#: The longest consent cookie of that site (every name once, whatever the choice), in bytes;
#: the README states it.
TEN_SERVICES_COOKIE_BOUND = 215


def codec(categories: dict[str, Any] = CATEGORIES, **overrides: Any) -> ConsentCodec:
    return ConsentCodec(make_settings(categories=categories, **overrides))


def with_services(services: dict[str, Any], **analytics: Any) -> dict[str, Any]:
    return {
        **CATEGORIES,
        "analytics": {"label": "Analytics", "cookies": ["_ga"], "services": services, **analytics},
    }


# --- settings -------------------------------------------------------------------------------


def test_services_are_read_from_toml(tmp_path: Any) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text(
        'secret_keys = ["k"]\nrecords_url = "none"\ncookie_inventory = "none"\n'
        '[categories.necessary]\nlabel = "Necessary"\nrequired = true\n'
        '[categories.analytics]\nlabel = "Analytics"\ncookies = ["_ga"]\n'
        '[categories.analytics.services.matomo]\nlabel = "Matomo"\ncookies = ["_pk_id*"]\n'
        '[[categories.analytics.services.matomo.declarations]]\nname = "_pk_ses*"\n'
        'provider = "Matomo"\npurpose = "Counts a visit."\nduration = "30 minutes"\n'
    )
    loaded = ConsentSettings.from_toml(policy)
    matomo = loaded.categories["analytics"].services["matomo"]
    assert matomo.cookies == ("_pk_id*", "_pk_ses*")  # a declared name is one of its cookies
    assert list(loaded.cookie_owners()) == ["necessary", "analytics", "analytics.matomo"]


@pytest.mark.parametrize(
    ("categories", "message"),
    [
        (
            with_services({"Matomo": {"label": "M"}}),
            "categories.analytics.services.Matomo: a service name must be lowercase",
        ),
        (
            with_services({"a.b": {"label": "M"}}),
            "categories.analytics.services.a.b: a service name must be lowercase",
        ),
        (
            with_services({"m" * 32: {"label": "M"}}),
            "at most 31",
        ),
        (
            with_services({"marketing": {"label": "M"}}),
            "categories.analytics.services.marketing: 'marketing' is already a category's name",
        ),
        (
            {
                **with_services({"pixel": {"label": "P"}}),
                "marketing": {"label": "M", "services": {"pixel": {"label": "P"}}},
            },
            "categories.marketing.services.pixel: service 'pixel' is already in category "
            "'analytics'",
        ),
        (
            with_services({"matomo": {"label": "M", "cookies": ["_ga"]}}),
            "categories.analytics.services.matomo.cookies (or declarations): '_ga' is already "
            "in category 'analytics'",
        ),
        (
            with_services({"matomo": {"label": "M", "cookies": ["_fbp"]}}),
            "categories.marketing.cookies (or declarations): '_fbp' is already in service "
            "'analytics.matomo'",
        ),
        (
            with_services({"matomo": {"label": "M", "cookies": ["a b"]}}),
            "characters a cookie name cannot",
        ),
        (
            with_services({f"s{n}": {"label": "S"} for n in range(MAX_OFFERED_ITEMS)}),
            f"at most {MAX_OFFERED_ITEMS} can be offered",
        ),
        (
            with_services({f"s{n:02}-{'x' * 26}": {"label": "S"} for n in range(12)}),
            f"the consent cookie carries at most {MAX_CHOICE_NAMES_LENGTH}",
        ),
        (
            with_services(
                {
                    "matomo": {
                        "label": "M",
                        "declarations": [
                            {
                                "name": "_pk",
                                "provider": "M",
                                "purpose": {"de": "x"},
                                "duration": "1",
                            }
                        ],
                    }
                }
            ),
            "categories.analytics.services.matomo.declarations.0.purpose ('_pk'): a text given "
            "by language needs one in default_language 'en'",
        ),
    ],
)
def test_bad_services_are_refused_naming_the_setting(
    categories: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigurationError) as error:
        make_settings(categories=categories)
    assert message in str(error.value)


def test_an_offer_fits_a_record() -> None:
    assert MAX_OFFERED_ITEMS <= MAX_CATEGORIES
    assert len("c" * 32 + "." + "s" * 31) <= MAX_CATEGORY_NAME_LENGTH


# --- the cookie -----------------------------------------------------------------------------


def test_a_choice_of_services_round_trips() -> None:
    signer = codec()
    record, value = signer.decide(frozenset({"analytics", "analytics.hotjar"}), "banner")
    state = signer.state(value)
    assert state.granted == {"necessary", "analytics", "analytics.hotjar"}
    assert state.allows("analytics") and state.allows("analytics.hotjar")
    assert not state.allows("analytics.matomo") and not state.allows("marketing")
    assert record.refused == {"analytics.matomo", "marketing"}
    # Services are spelled alone; the refused field comes last.
    payload = value.rsplit(".", 2)[0]
    assert payload.split(":")[1] == "analytics.hotjar"
    assert payload.split(":")[5] == "marketing.matomo"


def test_a_refused_category_refuses_its_services_without_naming_them() -> None:
    signer = codec()
    record, value = signer.decide(frozenset({"analytics.matomo", "marketing"}), "banner")
    assert record.granted == {"marketing"}
    assert record.refused == ANALYTICS
    assert value.rsplit(".", 2)[0].split(":")[5] == "analytics"
    assert signer.state(value).granted == {"necessary", "marketing"}


def test_services_of_a_required_category_are_always_granted() -> None:
    categories = {
        **CATEGORIES,
        "necessary": {"label": "N", "required": True, "services": {"stripe": {"label": "S"}}},
    }
    signer = codec(categories)
    _, value = signer.decide(frozenset(), "banner")
    assert signer.state(value).allows("necessary.stripe")
    assert signer.state(None).allows("necessary.stripe")


def test_ten_services_keep_the_cookie_compact() -> None:
    signer = codec(TEN_SERVICES)
    everything = signer.offer.optional
    lengths = {}
    for label, granted in [
        ("all", everything),
        ("none", frozenset()),
        ("categories only", frozenset({"analytics", "marketing"})),
        ("half", frozenset(sorted(everything)[::2]) | {"analytics", "marketing"}),
    ]:
        _, value = signer.decide(granted, "banner")
        assert signer.state(value).granted == signer.offer.whole(granted) | {"necessary"}
        lengths[label] = len(f"consent={value}")
    assert max(lengths.values()) <= TEN_SERVICES_COOKIE_BOUND, lengths
    # Refusing everything names the two categories only.
    assert lengths["none"] < lengths["all"] - 60


def test_a_cookie_written_before_services_still_verifies_and_means_the_same() -> None:
    """A five-field payload: the categories it grants, each with all of its services."""
    before = codec(
        {
            "necessary": {"label": "N", "required": True},
            "analytics": {"label": "A", "cookies": ["_ga"]},
            "marketing": {"label": "M"},
        }
    )
    _, new_style = before.decide(frozenset({"analytics"}), "api")
    old_payload = ":".join(new_style.rsplit(".", 2)[0].split(":")[:5])
    old = before._signer.sign(old_payload).decode("ascii")
    assert old_payload.count(":") == 4
    assert before.state(old).granted == {"necessary", "analytics"}
    after = codec()
    state = after.state(old)
    assert state.decided and state.source == "api"
    assert state.granted == {"necessary"} | ANALYTICS
    assert not state.allows("marketing")
    assert state._record is not None and state._record.refused == {"marketing"}


def test_a_removed_service_is_dropped_and_a_moved_one_needs_its_new_category() -> None:
    _, value = codec().decide(EVERYTHING, "banner")
    without_hotjar = codec(with_services({"matomo": {"label": "M", "cookies": ["_pk_id*"]}}))
    assert without_hotjar.state(value).granted == {
        "necessary",
        "analytics",
        "analytics.matomo",
        "marketing",
    }
    _, value = codec().decide(ANALYTICS, "banner")  # marketing refused
    moved = codec(
        {
            **with_services({"hotjar": {"label": "H"}}),
            "marketing": {"label": "M", "services": {"matomo": {"label": "M"}}},
        }
    )
    assert moved.state(value).granted == {"necessary", "analytics", "analytics.hotjar"}


SIGNED_NAMES = st.lists(
    st.sampled_from(["analytics", "marketing", "matomo", "hotjar", "gone", "", "x-y", "necessary"]),
    max_size=6,
).map(".".join)


@settings(max_examples=300)
@given(
    granted=SIGNED_NAMES,
    refused=st.one_of(st.none(), SIGNED_NAMES),
    revision=st.sampled_from(["1", "2", "", "01", "x"]),
    first=st.sampled_from(["1700000000", "", "-1", "1e9"]),
    source=st.sampled_from(["b", "a", "g", "", "z"]),
    extra=st.lists(st.text(alphabet="ab.:", max_size=4), max_size=2),
)
def test_any_signed_payload_is_read_without_raising_into_a_whole_choice(
    granted: str, refused: str | None, revision: str, first: str, source: str, extra: list[str]
) -> None:
    """The payload parser behind a valid signature: whatever the fields, it never raises, and
    what it reads is a choice the dialog could have made."""
    signer = codec()
    fields = [revision, granted, "id", first, source]
    if refused is not None:
        fields.append(refused)
    payload = ":".join([*fields, *extra])
    state = signer.state(signer._signer.sign(payload).decode("ascii"))
    if not state.decided:
        return
    assert state.granted <= signer.offer.optional | signer.required
    for item in state.granted:
        assert signer.offer.category_of[item] in state.granted  # a service with its category
    record = state._record
    assert record is not None
    assert not record.granted & record.refused
    assert record.refused <= signer.offer.optional


@settings(max_examples=200)
@given(st.sets(st.sampled_from(sorted(EVERYTHING | {"necessary", "unknown", "gone.x"}))))
def test_every_choice_reads_back_as_made(granted: set[str]) -> None:
    signer = codec()
    record, value = signer.decide(frozenset(granted), "banner")
    state = signer.state(value)
    assert state.granted == signer.offer.whole(frozenset(granted)) | {"necessary"}
    assert record.granted | record.refused == signer.offer.optional


# --- enforcement ----------------------------------------------------------------------------


def test_cookies_are_enforced_per_service_exactly_as_per_category() -> None:
    policy = CookiePolicy(make_settings(categories=CATEGORIES))
    assert policy.category_of("_pk_id.1.abc") == "analytics.matomo"
    assert policy.category_of("_hjid") == "analytics.hotjar"
    assert policy.category_of("_ga") == "analytics"
    headers = [
        (b"set-cookie", b"_ga=1"),
        (b"set-cookie", b"_pk_id.1=2"),
        (b"set-cookie", b"_hjid=3"),
        (b"set-cookie", b"_pk_ses.1=4; Max-Age=0"),
    ]
    granted = frozenset({"necessary", "analytics", "analytics.hotjar"})
    assert policy.filter_headers(headers, granted) == [
        (b"set-cookie", b"_ga=1"),
        (b"set-cookie", b"_hjid=3"),
        (b"set-cookie", b"_pk_ses.1=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT"),
    ]
    assert policy.filter_headers(headers, frozenset({"necessary"} | ANALYTICS)) is None
    assert policy.expirations(["_pk_id.1", "_hjid", "_ga"], granted) == [
        "_pk_id.1=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/"
    ]


# --- the API, the app and the records -------------------------------------------------------


def services_app(**kwargs: Any) -> Any:
    return page_app(make_settings(categories=CATEGORIES), **kwargs)


def test_json_choices_switch_services_and_the_state_lists_them() -> None:
    with client(services_app()) as browser:
        response = browser.post(
            "/_consent",
            json={
                "action": "save",
                "categories": ["analytics"],
                "services": {"analytics.matomo": False},
            },
            headers=SAME_ORIGIN,
        )
        assert response.status_code == 200, response.text
        data = response.json()
        assert data["categories"] == {"necessary": True, "analytics": True, "marketing": False}
        assert data["services"] == {"analytics.matomo": False, "analytics.hotjar": True}
        assert browser.get("/state").json()["granted"] == [
            "analytics",
            "analytics.hotjar",
            "necessary",
        ]


def test_a_form_switches_services_with_the_last_value_of_each() -> None:
    form = (
        b"action=save&category=analytics&analytics.matomo=off&analytics.matomo=on"
        b"&analytics.hotjar=off&marketing.nothing="
    )
    with client(services_app(), follow_redirects=False) as browser:
        response = browser.post(
            "/_consent",
            content=form.replace(b"&marketing.nothing=", b""),
            headers={**SAME_ORIGIN, "content-type": "application/x-www-form-urlencoded"},
        )
        assert response.status_code == 303, response.text
        assert browser.get("/_consent").json()["services"] == {
            "analytics.matomo": True,
            "analytics.hotjar": False,
        }


def test_a_service_switched_on_in_a_category_left_off_stays_off() -> None:
    with client(services_app()) as browser:
        data = browser.post(
            "/_consent",
            json={"action": "save", "categories": [], "services": {"analytics.matomo": True}},
            headers=SAME_ORIGIN,
        ).json()
    assert data["services"] == {"analytics.matomo": False, "analytics.hotjar": False}


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (b"action=save&analytics.ads=on", "application/x-www-form-urlencoded", "unknown service"),
        (b"action=save&analytics.matomo=yes", "application/x-www-form-urlencoded", "'on' or 'off'"),
        (
            b'{"action": "save", "services": {"analytics.ads": true}}',
            "application/json",
            "unknown service 'analytics.ads'",
        ),
        (
            b'{"action": "save", "services": {"matomo": true}}',
            "application/json",
            "unknown service 'matomo'",
        ),
        (
            b'{"action": "save", "services": ["analytics.matomo"]}',
            "application/json",
            "'services' must be an object",
        ),
        (
            b'{"action": "save", "services": {"analytics.matomo": "on"}}',
            "application/json",
            "'services' must be an object",
        ),
    ],
)
def test_unknown_or_malformed_service_choices_get_400(
    body: bytes, content_type: str, reason: str
) -> None:
    with client(services_app()) as browser:
        response = browser.post(
            "/_consent", content=body, headers={**SAME_ORIGIN, "content-type": content_type}
        )
    assert response.status_code == 400
    assert reason in response.text


def test_records_and_events_list_services_as_category_service() -> None:
    events: list[Any] = []
    with client(services_app(on_decision=events.append)) as browser:
        browser.post(
            "/_consent",
            json={
                "action": "save",
                "categories": ["analytics"],
                "services": {"analytics.hotjar": False},
            },
            headers=SAME_ORIGIN,
        )
    (event,) = events
    assert event.granted == ("analytics", "analytics.matomo", "necessary")
    assert event.refused == ("analytics.hotjar", "marketing")
    json.dumps(event.granted)


def test_a_site_without_consent_management_allows_every_service() -> None:
    with client(page_app(make_settings(categories=CATEGORIES, consent_enabled=False))) as browser:
        granted = browser.get("/state").json()["granted"]
    assert "analytics.matomo" in granted and "marketing" in granted


def test_the_wording_keeps_each_service_and_sites_without_services_keep_their_fingerprints() -> (
    None
):
    def wording(categories: dict[str, Any]) -> Wording:
        site_settings = make_settings(categories=categories)
        catalog = Catalog(site_settings)
        recorder = DecisionRecorder(site_settings, catalog.texts, catalog.category, catalog.service)
        return recorder.wording("de")

    with_them = wording(CATEGORIES)
    (analytics,) = [c for c in with_them.categories if c.name == "analytics"]
    assert [(s.name, s.label, s.description) for s in analytics.services] == [
        ("analytics.matomo", "Matomo", ""),
        ("analytics.hotjar", "Hotjar", "Heatmaps."),
    ]
    assert "services.legend" in dict(with_them.texts)
    assert "embed.always" in dict(with_them.texts)  # a placeholder's button can grant a service
    assert Wording.from_canonical(with_them.canonical) == with_them
    plain = {
        name: {k: v for k, v in c.items() if k != "services"} for name, c in CATEGORIES.items()
    }
    without = wording(plain)
    assert "services" not in without.canonical
    assert "services.legend" not in dict(without.texts)
    assert "embed.always" not in dict(without.texts)
