"""Cookie declarations: validated settings, the table in the visitor's language, the wording."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

import pytest

from consent.choice.declarations import ShownText, localised, shown_declarations
from consent.page.i18n import Catalog, shipped_catalogs
from consent.page.render import Renderer
from consent.records.model import OfferedCategory, Wording
from consent.records.recorder import DecisionRecorder
from consent.settings import ConfigurationError, ConsentSettings
from tests.support import make_settings

GA = {
    "name": "_ga",
    "provider": "Google Analytics",
    "purpose": {"en": "Tells visits apart.", "de": "Unterscheidet Besuche."},
    "duration": "2 years",
}
SESSION = {
    "name": "session",
    "provider": "This site",
    "purpose": "Signs you in.",
    "duration": "1 day",
}


def declared(**categories: Any) -> ConsentSettings:
    """Settings whose categories carry these declarations (necessary always there)."""
    values: dict[str, Any] = {
        "necessary": {"label": "Necessary", "required": True, "cookies": ["session"]},
        "analytics": {"label": "Analytics", "cookies": ["_gid"]},
    }
    for name, declarations in categories.items():
        values[name] = {**values[name], "declarations": declarations}
    return make_settings(categories=values)


def test_declared_names_count_as_the_categorys_cookies() -> None:
    settings = declared(analytics=[GA, {**GA, "name": "_ga_*"}], necessary=[SESSION])
    assert settings.categories["analytics"].cookies == ("_gid", "_ga", "_ga_*")
    assert settings.categories["necessary"].cookies == ("session",)  # no duplicate
    assert settings.categories["analytics"].declarations[0].provider == "Google Analytics"


@pytest.mark.parametrize(
    ("declaration", "setting", "words"),
    [
        ({**GA, "name": "a b"}, "categories.analytics.declarations.0.name", "characters"),
        ({**GA, "provider": " "}, "categories.analytics.declarations.0.provider", "1 to 200"),
        ({**GA, "purpose": ""}, "categories.analytics.declarations.0.purpose", "empty"),
        ({**GA, "purpose": {}}, "categories.analytics.declarations.0.purpose", "empty"),
        (
            {**GA, "purpose": {"english": "x"}},
            "categories.analytics.declarations.0.purpose",
            "language tag",
        ),
        ({**GA, "duration": "x" * 101}, "categories.analytics.declarations.0.duration", "100"),
        ({**GA, "colour": "blue"}, "categories.analytics.declarations.0.colour", "Extra"),
        (
            {**GA, "purpose": {"de": "Zählt."}},
            "categories.analytics.declarations.0.purpose",
            "default_language 'en'",
        ),
    ],
)
def test_a_wrong_declaration_is_refused_naming_the_setting(
    declaration: dict[str, Any], setting: str, words: str
) -> None:
    with pytest.raises(ConfigurationError) as raised:
        declared(analytics=[declaration])
    message = str(raised.value)
    assert setting in message
    assert words in message


def test_a_cookie_declared_twice_or_in_two_categories_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="declared more than once"):
        declared(analytics=[GA, GA])
    with pytest.raises(ConfigurationError, match="'session' is already in category"):
        declared(analytics=[{**SESSION}])


def test_declarations_are_read_from_toml(tmp_path: Any) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(
        """
secret_keys = ["k"]
records_url = "none"
[categories.necessary]
label = "Necessary"
required = true
[[categories.necessary.declarations]]
name = "session"
provider = "This site"
purpose = { en = "Signs you in.", fr = "Vous connecte." }
duration = "1 day"
""",
        encoding="utf-8",
    )
    settings = ConsentSettings.from_toml(path)
    (declaration,) = settings.categories["necessary"].declarations
    assert declaration.purpose == {"en": "Signs you in.", "fr": "Vous connecte."}
    assert settings.categories["necessary"].cookies == ("session",)


def test_texts_come_in_the_visitors_language_or_the_default_marked_as_such() -> None:
    table = {"en": "2 years", "de": "2 Jahre"}
    assert localised(table, "de", "en") == ShownText("2 Jahre")
    assert localised(table, "de-CH", "en") == ShownText("2 Jahre")
    assert localised(table, "fr", "en") == ShownText("2 years", "en")
    assert localised("2 years", "en", "en") == ShownText("2 years")
    assert localised("2 years", "fr", "en") == ShownText("2 years", "en")


class Tables(HTMLParser):
    """The tables of a document: caption, column headers (with their scope) and rows."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[dict[str, Any]] = []
        self._cell: list[str] | None = None
        self._in_caption = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "table":
            self.tables.append({"caption": "", "columns": [], "rows": [], "langs": []})
        elif tag == "caption":
            self._in_caption = True
        elif tag == "tr" and self.tables:
            self.tables[-1]["rows"].append([])
        elif tag in ("th", "td"):
            self._cell = []
            self.tables[-1]["rows"][-1].append(self._cell)
            if tag == "th" and attributes.get("scope") == "col":
                self.tables[-1]["columns"].append(self._cell)
            if "lang" in attributes:
                self.tables[-1]["langs"].append(attributes["lang"])

    def handle_endtag(self, tag: str) -> None:
        if tag == "caption":
            self._in_caption = False
        elif tag in ("th", "td"):
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._in_caption:
            self.tables[-1]["caption"] += data
        elif self._cell is not None:
            self._cell.append(data)


def tables_of(html: str) -> list[dict[str, Any]]:
    parser = Tables()
    parser.feed(html)
    for table in parser.tables:
        table["columns"] = ["".join(cell) for cell in table["columns"]]
        table["rows"] = [["".join(cell) for cell in row] for row in table["rows"]]
    return parser.tables


def test_the_dialog_and_the_settings_page_show_a_table_per_declaring_category() -> None:
    settings = declared(analytics=[GA])
    renderer = Renderer(settings, Catalog(settings))
    dialog = renderer.dialog("de", decided=False, granted=frozenset(), next_path="/")
    page = renderer.settings_page(
        "de", decided=False, gpc=False, granted=frozenset(), next_path="/"
    )
    for html in (dialog, page):
        (table,) = tables_of(html)  # the necessary category declares nothing: no table
        assert table["caption"] == "Cookies der Kategorie Statistik"  # the shipped label
        assert table["columns"] == ["Cookie", "Anbieter", "Zweck", "Speicherdauer"]
        assert table["rows"][1] == ["_ga", "Google Analytics", "Unterscheidet Besuche.", "2 years"]
        assert table["langs"] == ["en"]  # the duration was given in English only


def test_every_shipped_language_names_the_tables_columns() -> None:
    keys = ("caption", "name", "provider", "purpose", "duration")
    catalogs = shipped_catalogs()
    assert set(catalogs) >= {"en", "de", "fr", "es", "it"}
    for language, texts in catalogs.items():
        for key in keys:
            assert texts.get(f"declarations.{key}"), (language, key)
        if language != "en":
            assert texts["declarations.provider"] != catalogs["en"]["declarations.provider"]


def recorder_wording(settings: ConsentSettings, language: str) -> Wording:
    catalog = Catalog(settings)
    return DecisionRecorder(settings, catalog.texts, catalog.category, catalog.service).wording(
        language
    )


def test_the_wording_keeps_the_declarations_shown_and_its_fingerprint_follows_them() -> None:
    plain = recorder_wording(declared(), "de")
    with_ga = recorder_wording(declared(analytics=[GA]), "de")
    changed = recorder_wording(declared(analytics=[{**GA, "duration": "13 months"}]), "de")
    fingerprints = {plain.fingerprint, with_ga.fingerprint, changed.fingerprint}
    assert len(fingerprints) == 3
    analytics = next(c for c in with_ga.categories if c.name == "analytics")
    assert [cookie.as_json() for cookie in analytics.cookies] == [
        {
            "name": "_ga",
            "provider": "Google Analytics",
            "purpose": "Unterscheidet Besuche.",
            "duration": "2 years",
        }
    ]
    assert "declarations.provider" in dict(with_ga.texts)
    # Rebuilt from its JSON (the store, a replay), it is the same wording.
    assert Wording.from_canonical(with_ga.canonical) == with_ga
    assert Wording.from_canonical(with_ga.canonical).fingerprint == with_ga.fingerprint


def test_a_wording_without_declarations_keeps_the_fingerprint_it_had_before_them() -> None:
    wording = recorder_wording(declared(), "en")
    assert '"cookies"' not in wording.canonical
    assert not any(key.startswith("declarations.") for key, _ in wording.texts)
    same = Wording.build(
        "en",
        dict(wording.texts),
        [OfferedCategory(c.name, c.label, c.description, c.required) for c in wording.categories],
    )
    assert same.fingerprint == wording.fingerprint


def test_shown_declarations_follow_the_settings_order() -> None:
    settings = declared(analytics=[GA, {**GA, "name": "_ga_*"}])
    rows = shown_declarations(settings.categories["analytics"], "en", "en")
    assert [row.name for row in rows] == ["_ga", "_ga_*"]
