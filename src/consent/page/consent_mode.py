"""Google Consent Mode v2, set by the server: the script tag put at the head point of a page.

The tag loads ``consent-mode.js``, a static file, synchronously, so that it runs before any tag of
the head. The visitor's verified state travels in the tag's data attributes: the categories
granted now (the required ones only while undecided, or under GPC), and, for every page alike,
which Google consent types each category stands for and the ``consent_mode`` options. The script
calls ``gtag('consent', 'default', …)`` with that state, then ``gtag('set', …)`` for the options,
and ``gtag('consent', 'update', …)`` when a choice is made on the page (consent.js's
``consent:change`` event). A type is granted when every category mapped onto it is granted; a
type no category names is denied.

A tag depends on the granted categories and a CSP nonce only: it is rendered once per set of
categories, and the nonce, when the page has one, goes between its two cached halves.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

from markupsafe import escape

from consent.settings import ConsentSettings

#: Rendered tags kept, by set of granted categories (a site has at most a few dozen sets).
MAX_CACHED_TAGS = 64
#: The static script's file name under ``{prefix}/static/``.
SCRIPT_NAME = "consent-mode.js"


class ConsentModeTag:
    """Renders the ``<script src=…consent-mode.js …>`` tag for a visitor's granted categories."""

    def __init__(self, settings: ConsentSettings, static_url: Callable[[str], str]) -> None:
        options = settings.consent_mode
        types = settings.consent_mode_types()
        mapping = ";".join(f"{category}={' '.join(names)}" for category, names in types.items())
        attributes = [f' data-types="{escape(mapping)}"']
        if options.wait_for_update:
            attributes.append(f' data-wait-for-update="{options.wait_for_update}"')
        if options.ads_data_redaction:
            attributes.append(' data-ads-data-redaction="true"')
        if options.url_passthrough:
            attributes.append(' data-url-passthrough="true"')
        self._src = f'<script src="{escape(static_url(SCRIPT_NAME))}"'
        self._rest = "".join(attributes)
        self._halves = lru_cache(maxsize=MAX_CACHED_TAGS)(self._render)

    def tag(self, granted: frozenset[str], nonce: str | None) -> bytes:
        """The tag for a visitor whose verified consent grants ``granted``, with the page's
        CSP ``nonce`` if it has one. ASCII, so the same bytes in every charset a page may use."""
        before, after = self._halves(granted)
        if not nonce:
            return before + after
        attribute = f' nonce="{escape(nonce)}"'.encode("ascii", "xmlcharrefreplace")
        return b"".join((before, attribute, after))

    def _render(self, granted: frozenset[str]) -> tuple[bytes, bytes]:
        names = " ".join(sorted(granted))
        before = f'{self._src} data-granted="{escape(names)}"{self._rest}'
        return before.encode("ascii", "xmlcharrefreplace"), b"></script>"
