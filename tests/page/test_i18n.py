"""Languages: negotiation, overrides, per-browser notice texts, category labels, lists."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consent.page.i18n import MAX_ACCEPT_LANGUAGE, Catalog, localised_list, text_direction
from consent.settings import Category
from tests.support import make_settings


def test_negotiation_follows_quality_and_falls_back_to_the_base_language() -> None:
    catalog = Catalog(make_settings())
    assert catalog.negotiate(b"de-CH") == "de"
    assert catalog.negotiate(b"it-CH;q=0.8, de;q=0.9") == "de"
    assert catalog.negotiate(b"nl, fr;q=0.9, en;q=0.1") == "fr"
    assert catalog.negotiate(b"nl") == "en"
    assert catalog.negotiate(b"") == "en"


@given(st.binary(max_size=400))
def test_any_header_negotiates_an_offered_language(header: bytes) -> None:
    catalog = Catalog(make_settings())
    assert catalog.negotiate(header) in catalog.languages


def test_only_the_first_bytes_count_and_the_cache_keys_are_bounded() -> None:
    catalog = Catalog(make_settings())
    for number in range(50):
        catalog.negotiate(b"x" * MAX_ACCEPT_LANGUAGE + b"%d" % number)
    assert catalog._negotiated.cache_info().currsize == 1


def test_site_texts_override_and_add_languages() -> None:
    settings = make_settings(
        texts={"en": {"banner.title": "Cookies?"}, "nl": {"banner.title": "Koekjes?"}}
    )
    catalog = Catalog(settings)
    assert catalog.texts("en")["banner.title"] == "Cookies?"
    assert catalog.texts("nl")["banner.title"] == "Koekjes?"
    assert catalog.texts("nl")["banner.accept_all"] == "Accept all"  # English fills the gaps
    assert catalog.negotiate(b"nl-BE") == "nl"


def test_a_notice_text_per_browser_wins_for_that_browser_only() -> None:
    settings = make_settings(texts={"en": {"notice.outdated.ie": "Please leave IE."}})
    catalog = Catalog(settings)
    assert catalog.texts("en", "ie")["notice.outdated"] == "Please leave IE."
    assert catalog.texts("en", "firefox")["notice.outdated"] != "Please leave IE."
    assert catalog.texts("en")["notice.outdated"] != "Please leave IE."


def test_shipped_categories_are_translated_and_the_sites_own_are_kept() -> None:
    categories = {
        "necessary": Category(label="Necessary", required=True),
        "video": Category(label="Video embeds", description="YouTube and Vimeo."),
    }
    catalog = Catalog(make_settings(categories=categories))
    assert catalog.category("de", "necessary")[0] == "Notwendig"
    assert catalog.category("de", "video") == ("Video embeds", "YouTube and Vimeo.")


def test_lists_are_joined_the_languages_way() -> None:
    items = ["A", "B", "C"]
    assert localised_list(items, "en") == "A, B, C"  # CLDR's unit style
    assert localised_list(items, "de") == "A, B und C"
    assert localised_list(["A"], "fr") == "A"


@pytest.mark.parametrize(
    ("language", "direction"),
    [
        ("en", "ltr"),
        ("de-CH", "ltr"),
        ("ar", "rtl"),
        ("he", "rtl"),
        ("fa-IR", "rtl"),
        ("x-y", "ltr"),
    ],
)
def test_each_language_has_its_writing_direction(language: str, direction: str) -> None:
    assert text_direction(language) == direction
