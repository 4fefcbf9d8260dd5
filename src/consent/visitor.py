"""What one request tells about its visitor: browser verdict, consent, language, dismissals.

``Site`` holds everything built once from the settings (parsers, caches, templates);
``Site.visitor(scope)`` reads a request's headers in one pass and answers from the caches.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from urllib.parse import quote

from starlette.requests import cookie_parser
from starlette.types import Scope

from consent.browsers import BrowserClassifier, BrowserInfo
from consent.cookies import ConsentCodec, ConsentState
from consent.enforce import CookiePolicy
from consent.i18n import Catalog
from consent.render import Renderer
from consent.settings import ConsentSettings

_LOCALHOSTS = frozenset({"localhost", "127.0.0.1", "[::1]", "::1"})


class Visitor:
    """One request's visitor, read lazily from its headers."""

    def __init__(self, site: Site, headers: list[tuple[bytes, bytes]]) -> None:
        self._site = site
        self.cookie_header = b""
        self.user_agent = b""
        self.client_hints: bytes | None = None
        self.accept_language = b""
        self.gpc = False
        self.host = b""
        full_version_list = None
        brands = None
        for name, value in headers:
            if name == b"cookie":
                self.cookie_header = (
                    value if not self.cookie_header else self.cookie_header + b"; " + value
                )
            elif name == b"user-agent":
                self.user_agent = value
            elif name == b"accept-language":
                self.accept_language = value
            elif name == b"sec-ch-ua-full-version-list":
                full_version_list = value
            elif name == b"sec-ch-ua":
                brands = value
            elif name == b"sec-gpc":
                self.gpc = value.strip() == b"1"
            elif name == b"host":
                self.host = value
        self.client_hints = full_version_list if full_version_list is not None else brands

    @cached_property
    def cookies(self) -> dict[str, str]:
        """The request's cookies, parsed by Starlette."""
        if not self.cookie_header:
            return {}
        return cookie_parser(self.cookie_header.decode("latin-1"))

    @cached_property
    def browser(self) -> BrowserInfo:
        return self._site.classifier.classify(self.user_agent, self.client_hints)

    @cached_property
    def consent(self) -> ConsentState:
        site = self._site
        value = self.cookies.get(site.settings.cookie_name) if self.cookie_header else None
        return site.codec.state(value, gpc=self.gpc and site.settings.honour_gpc)

    @cached_property
    def language(self) -> str:
        return self._site.catalog.negotiate(self.accept_language)

    @property
    def notice_dismissed(self) -> bool:
        return self.cookies.get(self._site.settings.notice_cookie_name) == "1"

    def notice(self) -> str | None:
        """The verdict the notice should speak of, or None when no notice is due."""
        settings = self._site.settings
        if not settings.notice_enabled:
            return None
        verdict = self.browser.verdict
        if verdict not in settings.notice_verdicts or self.notice_dismissed:
            return None
        return verdict


def page_path(scope: Scope) -> str:
    """The path and query the browser asked for, as the forms' ``next``."""
    raw_path = scope.get("raw_path")
    path = raw_path.decode("latin-1") if raw_path else quote(scope.get("path", "/"))
    query = scope.get("query_string", b"")
    return f"{path}?{query.decode('latin-1')}" if query else path


def secure_cookies(scope: Scope, settings: ConsentSettings, host: bytes) -> bool:
    """``Secure`` unless the site is plain HTTP on localhost (or settings say otherwise)."""
    if settings.cookie_secure != "auto":
        return settings.cookie_secure == "always"
    if scope.get("scheme") in ("https", "wss"):
        return True
    hostname = host.decode("latin-1").rsplit(":", 1)[0] if host else ""
    if host.startswith(b"["):
        hostname = host.decode("latin-1").split("]")[0] + "]"
    return hostname not in _LOCALHOSTS


@dataclass(eq=False)
class Site:
    """Everything built once from the settings."""

    settings: ConsentSettings

    def __post_init__(self) -> None:
        self.classifier = BrowserClassifier(self.settings)
        self.codec = ConsentCodec(self.settings)
        self.policy = CookiePolicy(self.settings)
        self.catalog = Catalog(self.settings)
        self.renderer = Renderer(self.settings, self.catalog)

    def visitor(self, scope: Scope) -> Visitor:
        return Visitor(self, scope.get("headers") or [])
