"""Embed placeholders, on the server's side: the data block consent.js reads (services, labels,
texts), which only a site with services carries, its texts in every shipped language, and the
choice "Always allow" posts, which grants the one service and changes nothing else."""

from __future__ import annotations

import json
from typing import Any

import html5lib

from consent.page.i18n import Catalog
from consent.page.render import EMBED_TEXTS, Renderer, SnippetKey
from tests.support import CHROME, client, make_settings, page_app

CATEGORIES: dict[str, Any] = {
    "necessary": {"label": "Necessary", "required": True},
    "analytics": {
        "label": "Analytics",
        "services": {"matomo": {"label": "Matomo"}},
    },
    "marketing": {
        "label": "Marketing",
        "services": {
            "youtube": {"label": "YouTube"},
            "vimeo": {"label": "Vimeo"},
        },
    },
}
SAME_ORIGIN = {"origin": "http://localhost", "user-agent": CHROME}
LANGUAGES = ("de", "en", "es", "fr", "it")


def renderer(**overrides: Any) -> Renderer:
    settings = make_settings(**overrides)
    return Renderer(settings, Catalog(settings))


def snippet(render: Renderer, language: str = "en", **changes: Any) -> str:
    values: dict[str, Any] = {
        "language": language,
        "notice": None,
        "advice": None,
        "show_banner": False,
        "gpc": False,
        "decided": True,
        "granted": frozenset({"necessary"}),
        "encoding": "utf-8",
    }
    values.update(changes)
    return render.snippet(SnippetKey(**values)).fill("/", None).decode("utf-8")


def embed_data(markup: str) -> dict[str, Any]:
    """The JSON of the snippet's data block, read as a browser parses the page."""
    document = html5lib.parse(markup, namespaceHTMLElements=False)
    (block,) = [s for s in document.iter("script") if s.get("id") == "consent-embeds"]
    assert block.get("type") == "application/json"
    data: dict[str, Any] = json.loads(block.text or "")
    return data


def test_the_data_block_names_every_service_with_its_label_and_category() -> None:
    data = embed_data(snippet(renderer(categories=CATEGORIES)))
    assert data["endpoint"] == "/_consent"
    assert data["lang"] == "en"
    assert data["managed"] is True
    assert data["services"] == {
        "matomo": {"item": "analytics.matomo", "label": "Matomo", "category": "Analytics"},
        "youtube": {"item": "marketing.youtube", "label": "YouTube", "category": "Marketing"},
        "vimeo": {"item": "marketing.vimeo", "label": "Vimeo", "category": "Marketing"},
    }
    assert data["texts"]["embed.text"] == "This content is hosted by {provider}. Load it?"
    assert set(data["texts"]) == set(EMBED_TEXTS)


def test_the_data_block_is_in_the_visitors_language_with_the_sites_translations() -> None:
    render = renderer(
        categories=CATEGORIES,
        texts={"de": {"service.marketing.youtube.label": "YouTube (Videos)"}},
    )
    data = embed_data(snippet(render, "de", show_banner=True, decided=False))
    assert data["lang"] == "de"
    assert data["services"]["youtube"]["label"] == "YouTube (Videos)"
    assert data["texts"]["embed.load_once"] == "Einmal laden"


def test_a_site_without_services_carries_no_data_block() -> None:
    assert 'id="consent-embeds"' not in snippet(renderer())


def test_without_consent_management_the_block_says_every_embed_loads() -> None:
    data = embed_data(snippet(renderer(categories=CATEGORIES, consent_enabled=False)))
    assert data["managed"] is False


def test_no_label_can_end_the_data_block_or_depend_on_the_pages_encoding() -> None:
    hostile = {
        **CATEGORIES,
        "marketing": {"label": "Marketing", "services": {"youtube": {"label": "</script>é<b>"}}},
    }
    render = renderer(categories=hostile)
    markup = snippet(render, encoding="ascii")
    block = markup.partition('id="consent-embeds">')[2].partition("</script>")[0]
    assert block.isascii() and "<" not in block
    assert embed_data(markup)["services"]["youtube"]["label"] == "</script>é<b>"


def test_the_placeholder_texts_are_in_every_shipped_language() -> None:
    catalog = renderer(categories=CATEGORIES).catalog
    english = catalog.texts("en")
    for language in LANGUAGES:
        texts = catalog.texts(language)
        for name in EMBED_TEXTS:
            assert texts[name].strip(), (language, name)
            if language != "en":
                assert texts[name] != english[name], (language, name)
        assert "{provider}" in texts["embed.text"] and "{provider}" in texts["embed.always"]
        assert "{category}" in texts["embed.category"]


def test_always_allow_grants_the_one_service_and_keeps_the_rest_of_the_choice() -> None:
    """The choice consent.js posts for "Always allow YouTube" when only Matomo was granted:
    Marketing goes on for YouTube alone (Vimeo stays off), Analytics and Matomo stay on."""
    app = page_app(make_settings(categories=CATEGORIES))
    with client(app, headers=SAME_ORIGIN) as browser:
        before = browser.post(
            "/_consent", json={"action": "save", "categories": ["analytics"]}
        ).json()
        assert before["services"]["analytics.matomo"] is True
        allowing = {
            "action": "save",
            "categories": ["necessary", "analytics", "marketing"],
            "services": {
                "analytics.matomo": True,
                "marketing.youtube": True,
                "marketing.vimeo": False,
            },
            "source": "banner",
        }
        state = browser.post("/_consent", json=allowing).json()
    assert state["categories"] == {"necessary": True, "analytics": True, "marketing": True}
    assert state["services"] == {
        "analytics.matomo": True,
        "marketing.youtube": True,
        "marketing.vimeo": False,
    }
