"""Rendering: snippets kept per SnippetKey, filled per page and nonce, and the settings page."""

from __future__ import annotations

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
    assert '<html lang="en">' in page
    assert 'value="analytics" id="consent-page-analytics"' in page
    analytics = page.partition('value="analytics"')[2].partition(">")[0]
    marketing = page.partition('value="marketing"')[2].partition(">")[0]
    assert "checked" in analytics and "checked" not in marketing
    assert 'href="/x"' in page
