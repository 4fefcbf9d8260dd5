"""Rendering: snippets kept per SnippetKey, filled per page and nonce, and the settings page."""

from __future__ import annotations

import html5lib
from hypothesis import given
from hypothesis import strategies as st

from consent.page.i18n import Catalog
from consent.page.render import (
    MAX_CACHED_PAGE,
    MAX_NEXT,
    Renderer,
    Snippet,
    SnippetKey,
    TooLongToKeep,
    next_path,
)
from tests.support import make_settings


def renderer(**overrides: object) -> Renderer:
    settings = make_settings(**overrides)
    return Renderer(settings, Catalog(settings))


def key(**changes: object) -> SnippetKey:
    values: dict[str, object] = {
        "language": "en",
        "notice": None,
        "advice": None,
        "show_banner": True,
        "gpc": False,
        "decided": False,
        "granted": frozenset({"necessary"}),
        "encoding": "utf-8",
    }
    values.update(changes)
    return SnippetKey(**values)  # type: ignore[arg-type]


def test_one_snippet_per_key() -> None:
    render = renderer()
    assert render.snippet(key()) is render.snippet(key())
    assert render.snippet(key(decided=True, show_banner=False)) is not render.snippet(key())


def test_the_banner_is_in_the_snippet_only_while_undecided() -> None:
    render = renderer()
    undecided = render.snippet(key()).fill("/", None)
    decided = render.snippet(key(decided=True, show_banner=False)).fill("/", None)
    assert b'id="consent-banner"' in undecided
    assert b'id="consent-banner"' not in decided
    assert b"consent-settings-control" in decided


def test_the_snippet_is_encoded_for_the_page() -> None:
    render = renderer()
    german = render.snippet(key(language="de", encoding="latin-1")).fill("/", None)
    assert "Datenschutz".encode("latin-1") in german
    ascii_only = render.snippet(key(language="fr", encoding="ascii")).fill("/", None)
    assert ascii_only.isascii()
    assert b"&#233;" in ascii_only  # é as a character reference


@given(st.text(max_size=60), st.one_of(st.none(), st.text(max_size=20)))
def test_a_page_path_or_nonce_never_becomes_markup(path: str, nonce: str | None) -> None:
    snippet = Snippet('<a href="__NEXT__">x</a><script__NONCE__></script>', "utf-8")
    filled = snippet.fill(path, nonce).decode("utf-8")
    after = filled.partition('href="')[2]
    value = after.partition('"')[0]
    assert "<" not in value and '"' not in value
    if nonce:
        assert filled.count(" nonce=") == 1
    else:
        assert "nonce" not in filled


def test_next_path_is_bounded_and_falls_back() -> None:
    assert next_path(b"/a%20b", "/a b", b"x=1") == "/a%20b?x=1"
    assert next_path(None, "/a b", None) == "/a%20b"
    assert next_path(b"/p", "/p", b"q" * MAX_NEXT) == "/p"  # the query would make it too long
    assert next_path(b"/" + b"p" * MAX_NEXT, "/", None) == "/"


def test_only_short_pages_are_kept_filled() -> None:
    render = renderer()
    snippet = render.snippet(key())
    render.fill(snippet, b"/short", "/short", None, None)
    kept = render.kept_fill.cache_info().currsize
    long_query = b"x" * (MAX_CACHED_PAGE + 1)
    render.fill(snippet, b"/long", "/long", long_query, None)
    assert render.kept_fill.cache_info().currsize == kept


_SHARED_RENDERER = renderer()
_ADDRESS_PARTS = st.integers(min_value=0, max_value=MAX_CACHED_PAGE + 2)


@given(
    raw_path=st.one_of(st.none(), _ADDRESS_PARTS.map(lambda n: b"/" + b"p" * n)),
    query=st.one_of(st.none(), _ADDRESS_PARTS.map(lambda n: b"q" * n)),
    nonce=st.one_of(st.none(), _ADDRESS_PARTS.map(lambda n: "n" * n)),
)
def test_the_kept_fill_answers_as_fill_and_keeps_only_short_pages(
    raw_path: bytes | None, query: bytes | None, nonce: str | None
) -> None:
    """The responder's fast path (``kept_fill``, the cache itself) gives what ``fill`` and an
    uncached fill give, and the cache never holds a page over the bound."""
    render = _SHARED_RENDERER
    snippet = render.snippet(key())
    path = "/fallback"
    expected = snippet.fill(next_path(raw_path, path, query), nonce)
    size = len(raw_path or path) + len(query or b"") + len(nonce or "")
    before = render.kept_fill.cache_info()
    try:
        fast = render.kept_fill(snippet, raw_path, path, query, nonce)
    except TooLongToKeep as too_long:
        fast = too_long.filled
        assert size > MAX_CACHED_PAGE
    else:
        assert size <= MAX_CACHED_PAGE
    after = render.kept_fill.cache_info()
    if size > MAX_CACHED_PAGE:
        assert after.currsize == before.currsize
    assert fast == expected == render.fill(snippet, raw_path, path, query, nonce)


def test_requirements_are_listed_in_the_visitors_language() -> None:
    render = renderer()
    english = render.requirements("en")
    assert english.startswith("Google Chrome 24+, Mozilla Firefox 20+, Internet Explorer 11,")
    assert "Opera 15–18" in english and "SeaMonkey 2.15–2.23" in english
    assert " und " in render.requirements("de")


def test_settings_page_shows_the_visitors_choice() -> None:
    page = renderer().settings_page(
        "en", decided=True, gpc=False, granted=frozenset({"necessary", "analytics"}), next_path="/x"
    )
    assert '<html lang="en" dir="ltr">' in page
    assert 'value="analytics" id="consent-page-analytics"' in page
    analytics = page.partition('value="analytics"')[2].partition(">")[0]
    marketing = page.partition('value="marketing"')[2].partition(">")[0]
    assert "checked" in analytics and "checked" not in marketing
    assert 'href="/x"' in page


SERVICES = {
    "necessary": {"label": "Necessary", "required": True},
    "analytics": {
        "label": "Analytics",
        "services": {
            "matomo": {"label": "Matomo", "description": "Visits, counted on our server."},
            "hotjar": {"label": "Hotjar"},
        },
    },
}


def test_each_service_has_a_labelled_switch_inside_its_categorys_fieldset() -> None:
    dialog = renderer(categories=SERVICES).dialog(
        "en", decided=True, granted=frozenset({"necessary", "analytics"}), next_path="/"
    )
    document = html5lib.parse(dialog, namespaceHTMLElements=False)
    (fieldset,) = document.iter("fieldset")
    legend = fieldset.find("legend")
    assert legend is not None and "Analytics" in (legend.text or "")
    switches = [box for box in fieldset.iter("input") if box.get("type") == "checkbox"]
    assert [box.get("name") for box in switches] == ["analytics.matomo", "analytics.hotjar"]
    labels = {label.get("for"): label.text for label in document.iter("label")}
    described = {p.get("id"): p.text for p in document.iter("p")}
    for box in switches:
        assert box.get("role") == "switch" and box.get("value") == "on"
        assert labels[box.get("id")] in ("Matomo", "Hotjar")
        assert box.get("checked") is None  # the category is on, these two are off
    assert described[switches[0].get("aria-describedby")] == "Visits, counted on our server."
    assert switches[1].get("aria-describedby") is None
    # Each switch's "off" goes first, so a checked switch's "on" is the value that counts.
    hidden = [box.get("name") for box in fieldset.iter("input") if box.get("type") == "hidden"]
    assert hidden == ["analytics.matomo", "analytics.hotjar"]
    ids = [element.get("id") for element in document.iter() if element.get("id")]
    assert len(ids) == len(set(ids))


def test_a_service_switch_shows_on_while_its_category_is_off() -> None:
    """Off, a category's services show what turning it on grants: all of them."""
    page = renderer(categories=SERVICES).settings_page(
        "en", decided=True, gpc=False, granted=frozenset({"necessary"}), next_path="/"
    )
    assert 'name="analytics.matomo" value="on" id="consent-page-analytics.matomo"' in page
    assert page.count('data-consent-service-of="analytics" aria-describedby') == 1
    assert page.count("checked") == 3  # necessary, and both services


def test_the_services_legend_is_in_every_shipped_language() -> None:
    shipped = renderer(categories=SERVICES)
    for language in ("de", "en", "es", "fr", "it"):
        legend = shipped.catalog.texts(language)["services.legend"]
        assert "{category}" in legend
        if language != "en":
            assert legend != shipped.catalog.texts("en")["services.legend"]


def test_a_services_label_can_be_translated_by_texts() -> None:
    translated = renderer(
        categories=SERVICES,
        texts={"de": {"service.analytics.matomo.label": "Matomo (selbst betrieben)"}},
    )
    assert "Matomo (selbst betrieben)" in translated.dialog(
        "de", decided=False, granted=frozenset(), next_path="/"
    )
    assert translated.catalog.service("en", "analytics", "matomo")[0] == "Matomo"
