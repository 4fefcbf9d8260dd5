"""Texts in the visitor's language: the shipped catalogs, the site's overrides, and negotiation.

``Accept-Language`` is negotiated by Werkzeug's ``LanguageAccept.best_match`` (quality values,
``de-CH`` falling back to ``de``); results are cached by the raw header value. A notice text can
be given per browser: ``notice.outdated.ie`` is used instead of ``notice.outdated`` for the
browser key ``ie``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from importlib import resources

from babel.core import Locale, UnknownLocaleError
from babel.lists import format_list
from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header

from consent.settings import DEFAULT_CATEGORIES, ConsentSettings

#: Longer Accept-Language values are cut: real ones are a few dozen bytes.
MAX_ACCEPT_LANGUAGE = 256
#: Texts that may be given per browser, as ``<text key>.<browser key>``.
PER_BROWSER_PREFIX = "notice."


def shipped_catalogs() -> dict[str, dict[str, str]]:
    """Every catalog in ``consent/page/ui/locales``, by language tag."""
    catalogs = {}
    folder = resources.files("consent.page").joinpath("ui", "locales")
    for entry in folder.iterdir():
        if entry.name.endswith(".json"):
            catalogs[entry.name.removesuffix(".json")] = json.loads(entry.read_text("utf-8"))
    return catalogs


class Catalog:
    """The texts of every language the site offers."""

    def __init__(self, settings: ConsentSettings) -> None:
        shipped = shipped_catalogs()
        self.default = settings.default_language
        offered = settings.languages or tuple(sorted(set(shipped) | set(settings.texts)))
        if self.default not in offered:
            offered = (self.default, *offered)
        base = shipped.get("en", {}) | shipped.get(self.default, {})
        self._texts: dict[str, dict[str, str]] = {}
        for language in offered:
            merged = base | shipped.get(language, {}) | settings.texts.get(language, {})
            self._texts[language] = merged
        self.languages = tuple(self._texts)
        #: Per language and browser key, the texts with that browser's own ones in place.
        self._browser_texts = {
            (language, browser): texts | own
            for language, texts in self._texts.items()
            for browser, own in _per_browser(texts).items()
        }
        self._categories = settings.categories
        self._overrides = settings.texts
        self._negotiated = lru_cache(maxsize=512)(self._negotiate)

    def negotiate(self, accept_language: bytes) -> str:
        """The best offered language for an ``Accept-Language`` value (the default if none).

        Only the first :data:`MAX_ACCEPT_LANGUAGE` bytes count, and they are the cache's key."""
        return self._negotiated(accept_language[:MAX_ACCEPT_LANGUAGE])

    def _negotiate(self, accept_language: bytes) -> str:
        if not accept_language:
            return self.default
        header = accept_language.decode("latin-1")
        accepted = parse_accept_header(header, LanguageAccept)
        return accepted.best_match(self.languages, default=self.default) or self.default

    def texts(self, language: str, browser: str | None = None) -> Mapping[str, str]:
        """The texts of ``language`` (the default language's if it is not offered); with
        ``browser``, its own texts (``notice.update.safari``) in place of the general ones."""
        if language not in self._texts:
            language = self.default
        if browser is not None:
            own = self._browser_texts.get((language, browser))
            if own is not None:
                return own
        return self._texts[language]

    def category(self, language: str, name: str) -> tuple[str, str]:
        """The label and description of a category in ``language``.

        A category the site kept as shipped is translated by the catalogs; one the site wrote
        itself keeps the site's words, unless ``texts.<language>`` gives them.
        """
        category = self._categories[name]
        overrides = self._overrides.get(language, {})
        texts = self.texts(language)
        shipped = DEFAULT_CATEGORIES.get(name)
        label = overrides.get(f"category.{name}.label") or _pick(
            category.label, shipped.label if shipped else None, texts.get(f"category.{name}.label")
        )
        description = overrides.get(f"category.{name}.description") or _pick(
            category.description,
            shipped.description if shipped else None,
            texts.get(f"category.{name}.description"),
        )
        return label, description

    def service(self, language: str, category: str, service: str) -> tuple[str, str]:
        """The label and description of a service in ``language``: the site's words, unless
        ``texts.<language>`` gives them (``service.analytics.matomo.label``)."""
        configured = self._categories[category].services[service]
        overrides = self._overrides.get(language, {})
        key = f"service.{category}.{service}"
        return (
            overrides.get(f"{key}.label") or configured.label,
            overrides.get(f"{key}.description") or configured.description,
        )


def _per_browser(texts: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """The per-browser texts among ``texts``, by browser key: ``notice.outdated.ie`` is
    ``{"ie": {"notice.outdated": …}}`` when ``notice.outdated`` is a text."""
    found: dict[str, dict[str, str]] = {}
    for name, text in texts.items():
        general, _, browser = name.rpartition(".")
        if name.startswith(PER_BROWSER_PREFIX) and browser and general in texts:
            found.setdefault(browser, {})[general] = text
    return found


def _pick(configured: str, shipped: str | None, translated: str | None) -> str:
    if configured == shipped and translated:
        return translated
    return configured


def text_direction(language: str) -> str:
    """``"rtl"`` for a language written right to left (Arabic, Hebrew, …), else ``"ltr"``: what
    our elements' ``dir`` says, so that their text runs its own way whatever the page's does."""
    try:
        return str(Locale.parse(language.replace("-", "_")).text_direction)
    except (ValueError, UnknownLocaleError):
        return "ltr"


def localised_list(items: list[str], language: str) -> str:
    """``items`` joined as the language joins a list ("A, B, C"; "A, B et C")."""
    if not items:
        return ""
    try:
        return format_list(items, style="unit", locale=language)
    except (KeyError, ValueError, UnknownLocaleError):
        try:
            return format_list(items, locale=language)
        except (KeyError, ValueError, UnknownLocaleError):
            return ", ".join(items)
