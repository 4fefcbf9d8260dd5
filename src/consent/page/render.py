"""Rendering the injected markup and the settings page from overridable Jinja2 templates.

A snippet depends on few things (language, notice and its update advice, consent view, granted
categories, charset), so each combination is rendered once and kept as encoded bytes with two
holes: the page's own path (``next``, for the no-JavaScript forms) and an optional CSP nonce
attribute.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any, NamedTuple
from urllib.parse import quote

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PackageLoader, select_autoescape
from markupsafe import escape

from consent.browser.advice import UpdateAdvice
from consent.browser.defaults import FINAL_VERSIONS
from consent.browser.rules import format_version
from consent.choice.declarations import shown_declarations
from consent.page.i18n import Catalog, localised_list, text_direction
from consent.settings import GOOGLE_CONSENT_TYPES, ConsentSettings, service_item

#: The longest ``next`` path a form carries back; the endpoints refuse a longer one, so a page
#: whose path and query are longer sends its visitor back to its path alone, or to ``/``.
MAX_NEXT = 2048
#: Filled snippets are cached only for pages whose raw path and query add up to at most this
#: many bytes: a client chooses them, and a longer one would make each entry that much larger.
MAX_CACHED_PAGE = 1024

#: The texts consent.js shows in an embed's placeholder (``<iframe data-consent-service>``).
EMBED_TEXTS = ("embed.text", "embed.load_once", "embed.always", "embed.category")

NEXT_HOLE = "__NEXT__"
NONCE_HOLE = "__NONCE__"
_NONCE_BYTES = NONCE_HOLE.encode("ascii")


@dataclass(frozen=True, slots=True)
class Asset:
    """A static file served under ``{prefix}/static/``."""

    body: bytes
    media_type: str
    etag: str


class Snippet:
    """Encoded markup with holes; ``fill`` puts a request's values in them.

    The page path fills every ``next`` hole with one ``bytes.join``. The nonce holes are filled
    (or emptied) part by part before that, so nothing in the path can turn into an attribute.
    """

    __slots__ = ("_parts", "_plain")

    def __init__(self, text: str, encoding: str) -> None:
        pieces = text.split(NEXT_HOLE)
        self._parts = tuple(piece.encode(encoding, "xmlcharrefreplace") for piece in pieces)
        self._plain = tuple(part.replace(_NONCE_BYTES, b"") for part in self._parts)

    def fill(self, next_path: str, nonce: str | None) -> bytes:
        value = str(escape(next_path)).encode("ascii", "xmlcharrefreplace")
        if not nonce:
            return value.join(self._plain)
        attribute = f' nonce="{escape(nonce)}"'.encode("ascii", "xmlcharrefreplace")
        return value.join([part.replace(_NONCE_BYTES, attribute) for part in self._parts])


def next_path(raw_path: bytes | None, path: str, query: bytes | None) -> str:
    """The path and query the browser asked for, as the forms' ``next``, from a scope's
    ``raw_path``, ``path`` and ``query_string``; without the query when both would be longer
    than :data:`MAX_NEXT`, and ``/`` when the path alone is."""
    path = raw_path.decode("latin-1") if raw_path else quote(path)
    if len(path) > MAX_NEXT:
        return "/"
    if not query or len(path) + 1 + len(query) > MAX_NEXT:
        return path
    return f"{path}?{query.decode('latin-1')}"


def _fill(
    snippet: Snippet, raw_path: bytes | None, path: str, query: bytes | None, nonce: str | None
) -> bytes:
    """``snippet`` filled for the page with this scope's ``raw_path``, ``path`` and
    ``query_string``: the cache key is the scope's own values, decoded only when missed."""
    return snippet.fill(next_path(raw_path, path, query), nonce)


class TooLongToKeep(Exception):  # noqa: N818 (not an error: the answer, given by raising)
    """Raised by :attr:`Renderer.kept_fill` for a page whose address and nonce are longer than
    :data:`MAX_CACHED_PAGE`, with the filled snippet: a cache stores nothing for a raising call."""

    def __init__(self, filled: bytes) -> None:
        super().__init__()
        self.filled = filled


def _fill_to_keep(
    snippet: Snippet, raw_path: bytes | None, path: str, query: bytes | None, nonce: str | None
) -> bytes:
    """As :func:`_fill`, for a cache: the size of its key is checked on a miss, before the
    cache stores the answer, so that a hit checks nothing."""
    filled = _fill(snippet, raw_path, path, query, nonce)
    if len(raw_path or path) + len(query or b"") + len(nonce or "") > MAX_CACHED_PAGE:
        raise TooLongToKeep(filled)
    return filled


#: Values the static scripts share with the settings, written into them as they are loaded (each
#: marker is a valid ES5 expression as it stands), so that each value is written in one place.
WRITTEN_IN = {
    b"[/* GOOGLE_CONSENT_TYPES */]": json.dumps(list(GOOGLE_CONSENT_TYPES)).encode("ascii"),
}


def load_assets() -> dict[str, Asset]:
    """The static files, with :data:`WRITTEN_IN`'s values in them, and each one's ETag."""
    folder = resources.files("consent.page").joinpath("ui", "static")
    types = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
    assets = {}
    for entry in folder.iterdir():
        suffix = entry.name[entry.name.rfind(".") :]
        if suffix in types:
            body = entry.read_bytes()
            for marker, value in WRITTEN_IN.items():
                body = body.replace(marker, value)
            etag = hashlib.sha256(body).hexdigest()[:16]
            assets[entry.name] = Asset(body=body, media_type=types[suffix], etag=etag)
    return assets


class SnippetKey(NamedTuple):
    """Everything a snippet depends on: the key of the rendered snippets' cache."""

    language: str
    #: The verdict the notice speaks of, None without a notice.
    notice: str | None
    #: The notice's update advice: few distinct values, so one snippet per kind of advice, not
    #: per User-Agent.
    advice: UpdateAdvice | None
    show_banner: bool
    gpc: bool
    decided: bool
    granted: frozenset[str]
    #: The codec of the page the snippet goes into.
    encoding: str
    #: What a decided visitor was not offered when deciding (the banner asks about it).
    new: frozenset[str] = frozenset()


class Renderer:
    """Renders the snippet injected into pages and the stand-alone settings page."""

    def __init__(self, settings: ConsentSettings, catalog: Catalog) -> None:
        self.settings = settings
        self.catalog = catalog
        self.assets = load_assets()
        loaders: list[Any] = [PackageLoader("consent.page", "ui/templates")]
        if settings.templates_dir is not None:
            loaders.insert(0, FileSystemLoader(settings.templates_dir))
        self.environment = Environment(
            loader=ChoiceLoader(loaders),
            autoescape=select_autoescape(default=True, default_for_string=True),
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
        )
        self.environment.globals["static_url"] = self.static_url
        self._rules = {key: stated.rule for key, stated in settings.browser_policy().rules.items()}
        self.snippet = lru_cache(maxsize=512)(self._snippet)
        #: ``kept_fill(snippet, raw_path, path, query, nonce)``: filled snippets by snippet, page
        #: and nonce (most requests are for a few pages), kept when the page's address is short;
        #: for a longer one it raises :class:`TooLongToKeep`, which carries the filled bytes. A hit
        #: runs no Python: the responder calls it directly, and :meth:`fill` for everyone else.
        self.kept_fill = lru_cache(maxsize=512)(_fill_to_keep)

    def fill(
        self,
        snippet: Snippet,
        raw_path: bytes | None,
        path: str,
        query: bytes | None,
        nonce: str | None,
    ) -> bytes:
        """``snippet`` filled for a page (a scope's ``raw_path``, ``path`` and
        ``query_string``) and a CSP nonce; kept when the page's address is short."""
        try:
            return self.kept_fill(snippet, raw_path, path, query, nonce)
        except TooLongToKeep as too_long:
            return too_long.filled

    def static_url(self, name: str) -> str:
        return f"{self.settings.prefix}/static/{name}?v={self.assets[name].etag}"

    def requirements(self, language: str) -> str:
        """The minimal requirements, e.g. "Google Chrome 24+, Opera 15–18, SeaMonkey 2.15–2.23",
        from the resolved rules (a browserslist query's too); a browser accepted at any version
        (Opera Mini under a query that selects it) is named alone."""
        items = []
        for key, rule in self._rules.items():
            if rule.unsupported:
                continue
            name = self.settings.browser_name(key)
            if rule.minimum is None:
                items.append(name)
            elif rule.maximum is not None:
                items.append(
                    f"{name} {format_version(rule.minimum)}\u2013{format_version(rule.maximum)}"
                )
            elif FINAL_VERSIONS.get(key) == rule.minimum:
                items.append(f"{name} {format_version(rule.minimum)}")
            else:
                items.append(f"{name} {format_version(rule.minimum)}+")
        return localised_list(items, language)

    def _context(self, language: str) -> dict[str, Any]:
        texts = self.catalog.texts(language)
        categories = []
        for name, category in self.settings.categories.items():
            label, description = self.catalog.category(language, name)
            categories.append(
                {
                    "name": name,
                    "label": label,
                    "description": description,
                    "required": category.required,
                    "declarations": shown_declarations(
                        category, language, self.settings.default_language
                    ),
                    "services": self._services(language, name),
                }
            )
        return {
            "lang": language,
            "dir": text_direction(language),
            "t": texts,
            "prefix": self.settings.prefix,
            "privacy_policy_url": self.settings.privacy_policy_url,
            "categories": categories,
            "consent_enabled": self.settings.consent_enabled,
        }

    def _services(self, language: str, category_name: str) -> list[dict[str, Any]]:
        """A category's services as the preferences form shows them."""
        services = []
        for name, service in self.settings.categories[category_name].services.items():
            label, description = self.catalog.service(language, category_name, name)
            services.append(
                {
                    "name": service_item(category_name, name),
                    "key": name,
                    "label": label,
                    "description": description,
                    "declarations": shown_declarations(
                        service, language, self.settings.default_language
                    ),
                }
            )
        return services

    def embeds(self, language: str) -> dict[str, Any] | None:
        """What consent.js needs for the placeholders of embeds (``<iframe
        data-consent-service="youtube" data-src="…">``), as the snippet's JSON data block: where
        choices are posted, every service by the name a page gives it (with the name consent
        knows it by, its label and its category's label), the placeholder's texts, and whether
        consent is managed at all (without it, every embed loads). None for a site without
        services: its pages carry no block."""
        services = {}
        for category_name in self.settings.categories:
            category_label = self.catalog.category(language, category_name)[0]
            for name in self.settings.categories[category_name].services:
                services[name] = {
                    "item": service_item(category_name, name),
                    "label": self.catalog.service(language, category_name, name)[0],
                    "category": category_label,
                }
        if not services:
            return None
        texts = self.catalog.texts(language)
        return {
            "endpoint": self.settings.prefix,
            "lang": language,
            "dir": text_direction(language),
            "managed": self.settings.consent_enabled,
            "services": services,
            "texts": {name: texts[name] for name in EMBED_TEXTS},
        }

    def _snippet(self, key: SnippetKey) -> Snippet:
        """The markup for one combination of visitor state, encoded for the response."""
        context = self._context(key.language)
        advice = key.advice
        if advice is not None and advice.browser is not None:
            context["t"] = self.catalog.texts(key.language, advice.browser)
        label, note = self._advice_texts(context["t"], advice)
        context.update(
            notice=key.notice,
            requirements=self.requirements(key.language) if key.notice else "",
            update_url=advice.url if advice is not None else None,
            update_label=label,
            update_note=note,
            show_banner=key.show_banner,
            gpc=key.gpc,
            decided=key.decided,
            granted=key.granted,
            new_items=self.new_items(key.language, key.new),
            embeds=self.embeds(key.language),
        )
        text = self.environment.get_template("snippet.html").render(context)
        return Snippet(text, key.encoding)

    def new_items(self, language: str, new: frozenset[str]) -> str:
        """What is new to a visitor, as the banner lists it: each new category (which brings its
        services), then each new service of a category they knew, in the settings' order and
        joined the language's way; "" when nothing is new."""
        if not new:
            return ""
        labels = []
        for name, category in self.settings.categories.items():
            if name in new:
                labels.append(self.catalog.category(language, name)[0])
                continue
            for service in category.services:
                if service_item(name, service) in new:
                    labels.append(self.catalog.service(language, name, service)[0])
        return localised_list(labels, language)

    def _advice_texts(
        self, texts: Mapping[str, str], advice: UpdateAdvice | None
    ) -> tuple[str, str]:
        """The update link's label and the line that explains the advice ("" for none)."""
        if advice is None or advice.kind == "browser":
            return texts["notice.update"], ""
        if advice.kind == "system":
            return texts["notice.update_system"].replace("{system}", advice.system or ""), ""
        if advice.kind == "other_browser" and advice.suggested is not None:
            name = self.settings.browser_name(advice.suggested)
            return (
                texts["notice.get_browser"].replace("{browser}", name),
                texts["notice.other_browser"].replace("{browser}", name),
            )
        return "", texts["notice.no_update"]

    def dialog(
        self, language: str, *, decided: bool, granted: frozenset[str], next_path: str
    ) -> str:
        """The preferences dialog alone, which consent.js fetches for a decided visitor."""
        context = self._context(language)
        context.update(decided=decided, granted=granted)
        text = self.environment.get_template("preferences_dialog.html").render(context)
        return Snippet(text, "utf-8").fill(next_path, None).decode("utf-8")

    def settings_page(
        self, language: str, *, decided: bool, gpc: bool, granted: frozenset[str], next_path: str
    ) -> str:
        """The stand-alone preferences page, for visitors without JavaScript."""
        context = self._context(language)
        context.update(decided=decided, gpc=gpc, granted=granted)
        text = self.environment.get_template("preferences_page.html").render(context)
        return Snippet(text, "utf-8").fill(next_path, None).decode("utf-8")
