"""Re-consent when the offer grows: a category or service added after a visitor decided is new
to them, refused until answered, and the banner asks about it alone; their other choices
stand. Raising ``revision`` still asks everything again."""

from __future__ import annotations

from typing import Any

import pytest

from consent.choice.codec import ConsentCodec
from consent.page.i18n import Catalog
from consent.records.recorder import NEW_OFFER_TEXTS, DecisionRecorder
from tests.support import CHROME, client, make_settings, page_app

SAME_ORIGIN = {"origin": "http://localhost", "user-agent": CHROME}

BEFORE: dict[str, Any] = {
    "necessary": {"label": "Necessary", "required": True},
    "analytics": {
        "label": "Analytics",
        "cookies": ["_ga"],
        "services": {"matomo": {"label": "Matomo", "cookies": ["_pk_id*"]}},
    },
    "marketing": {"label": "Marketing", "cookies": ["_fbp"]},
}
#: A service added to analytics and to marketing, and a new category with a service of its own.
AFTER: dict[str, Any] = {
    "necessary": BEFORE["necessary"],
    "analytics": {
        "label": "Analytics",
        "cookies": ["_ga"],
        "services": {
            "matomo": {"label": "Matomo", "cookies": ["_pk_id*"]},
            "hotjar": {"label": "Hotjar", "cookies": ["_hjid"]},
        },
    },
    "marketing": {
        "label": "Marketing",
        "cookies": ["_fbp"],
        "services": {"pixel": {"label": "Pixel"}},
    },
    "media": {
        "label": "Media",
        "cookies": ["yt"],
        "services": {"youtube": {"label": "YouTube"}},
    },
}


def codec(categories: dict[str, Any], **overrides: Any) -> ConsentCodec:
    return ConsentCodec(make_settings(categories=categories, **overrides))


def cookie_granting(granted: frozenset[str], categories: dict[str, Any] = BEFORE) -> str:
    return codec(categories).decide(granted, "banner")[1]


def test_what_was_added_since_the_choice_is_new_and_refused() -> None:
    value = cookie_granting(frozenset({"analytics", "analytics.matomo"}))
    state = codec(AFTER).state(value)
    assert state.decided
    # A refused category's new service is refused with it: only what could be granted is asked.
    assert state.new == {"analytics.hotjar", "media", "media.youtube"}
    assert state.granted == {"necessary", "analytics", "analytics.matomo"}
    assert not state.allows("analytics.hotjar") and not state.allows("media")
    assert state.as_json(("necessary",))["new"] == ["analytics.hotjar", "media", "media.youtube"]
    assert codec(BEFORE).state(value).new == frozenset()


def test_raising_the_revision_still_asks_everything() -> None:
    value = cookie_granting(frozenset({"analytics"}))
    assert not codec(AFTER, revision=2).state(value).decided


def test_a_cookie_written_before_services_has_nothing_new() -> None:
    """What it was offered cannot be told; raising the revision is the way to ask again."""
    signer = codec(BEFORE)
    payload = ":".join(signer.decide(frozenset({"analytics"}), "api")[1].split(":")[:5])
    old = signer._signer.sign(payload).decode("ascii")
    state = codec(AFTER).state(old)
    assert state.decided and state.new == frozenset()
    assert state.granted == {"necessary", "analytics", "analytics.matomo", "analytics.hotjar"}


def after_app(**kwargs: Any) -> Any:
    return page_app(make_settings(categories=AFTER), **kwargs)


def post(browser: Any, action: str, cookie: str | None = None) -> dict[str, Any]:
    headers = {**SAME_ORIGIN, "cookie": f"consent={cookie}"} if cookie else SAME_ORIGIN
    response = browser.post("/_consent", json={"action": action}, headers=headers)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


@pytest.mark.parametrize(
    ("action", "granted"),
    [
        (
            "accept_new",
            [
                "analytics",
                "analytics.hotjar",
                "analytics.matomo",
                "media",
                "media.youtube",
                "necessary",
            ],
        ),
        ("reject_new", ["analytics", "analytics.matomo", "necessary"]),
    ],
)
def test_answering_the_new_items_keeps_the_other_choices(action: str, granted: list[str]) -> None:
    events: list[Any] = []
    with client(after_app(on_decision=events.append)) as browser:
        value = cookie_granting(frozenset({"analytics", "analytics.matomo"}))
        assert browser.get("/_consent", headers={"cookie": f"consent={value}"}).json()["new"] == [
            "analytics.hotjar",
            "media",
            "media.youtube",
        ]
        data = post(browser, action, value)  # the answer's cookie goes to the client's jar
        assert data["new"] == []
        assert browser.get("/state").json()["granted"] == granted
        assert browser.get("/_consent").json()["new"] == []
    (event,) = events
    assert list(event.granted) == granted


def test_without_an_earlier_choice_everything_is_new() -> None:
    with client(after_app()) as browser:
        assert post(browser, "accept_new")["categories"] == {
            "necessary": True,
            "analytics": True,
            "marketing": True,
            "media": True,
        }
    with client(after_app()) as browser:
        assert post(browser, "reject_new")["categories"]["marketing"] is False


def test_the_banner_asks_about_the_new_items_only() -> None:
    value = cookie_granting(frozenset({"analytics", "analytics.matomo"}))
    with client(after_app()) as browser:
        headers = {"user-agent": CHROME, "accept-language": "de", "cookie": f"consent={value}"}
        page = browser.get("/", headers=headers).text
    assert 'id="consent-banner"' in page
    # A new category stands for its services; labels as the site wrote them.
    assert "Neu seit Ihrer letzten Auswahl: Hotjar, Media. Ihre übrige Auswahl bleibt" in page
    assert 'value="accept_new">Neue akzeptieren<' in page
    assert 'value="reject_new">Neue ablehnen<' in page
    assert 'value="accept_all"' in page  # in the dialog's data block, not in the banner
    banner = page.split('id="consent-banner"', 1)[1].split("</section>", 1)[0]
    assert "accept_all" not in banner and "reject_all" not in banner


def test_a_visitor_with_nothing_new_sees_no_banner() -> None:
    value = cookie_granting(frozenset({"analytics"}), AFTER)
    with client(after_app()) as browser:
        page = browser.get("/", headers={"user-agent": CHROME, "cookie": f"consent={value}"}).text
    assert 'id="consent-banner"' not in page
    assert 'id="consent-settings-control"' in page


def test_the_new_items_texts_are_in_every_language_and_only_in_such_wordings() -> None:
    site_settings = make_settings(categories=AFTER)
    catalog = Catalog(site_settings)
    for language in ("de", "en", "es", "fr", "it"):
        texts = catalog.texts(language)
        assert "{items}" in texts["new.text"]
        assert texts["new.accept"] and texts["new.refuse"]
    recorder = DecisionRecorder(site_settings, catalog.texts, catalog.category, catalog.service)
    plain = dict(recorder.wording("fr").texts)
    asked = dict(recorder.wording("fr", asked_new=True).texts)
    assert not any(key.startswith(NEW_OFFER_TEXTS) for key in plain)
    assert asked["new.accept"] == "Accepter les nouveautés"
