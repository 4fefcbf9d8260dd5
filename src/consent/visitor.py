"""What one request tells about its visitor: browser verdict, consent, language, dismissals.

``Site`` holds everything built once from the settings (parsers, caches, templates);
``Site.visitor(scope)`` reads a request's headers in one pass and answers from the caches.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from starlette.requests import cookie_parser
from starlette.types import Scope

from consent.browser.classify import BrowserClassifier, BrowserInfo
from consent.choice.codec import ConsentCodec, ConsentState
from consent.choice.enforcement import CookiePolicy
from consent.page.i18n import Catalog
from consent.page.render import Renderer, Snippet, SnippetKey
from consent.settings import ConsentSettings

_LOCALHOSTS = frozenset({"localhost", "127.0.0.1", "[::1]", "::1"})


#: The request headers a visitor is judged by, in the order ``Site.visitor_by_headers`` reads
#: them (it spells them out, and a test holds the two to the same order), each with its value
#: when the request has none.
_JUDGED = dict.fromkeys(
    (
        b"cookie",
        b"user-agent",
        b"accept-language",
        b"sec-gpc",
        b"sec-ch-ua-full-version-list",
        b"sec-ch-ua",
    ),
    b"",
)
#: The judged headers but the Cookie, in ``_JUDGED``'s order: User-Agent, Accept-Language,
#: Sec-GPC, Sec-CH-UA-Full-Version-List, Sec-CH-UA (a plain tuple: it is built on every request).
OtherHeaders = tuple[bytes, bytes, bytes, bytes, bytes]


#: Visitors whose judged headers add up to more bytes than this are not cached (memory bound).
_CACHED_HEADERS = 4096


class Visitor:
    """What a request's headers say of its visitor: browser verdict, consent, language.

    It depends on those headers alone, so ``Site`` keeps whole visitors in bounded caches: a
    returning visitor costs one dict lookup on the raw header values. When only other cookies
    of the Cookie header changed (an analytics timestamp, a rotated session), a second cache
    keyed on our two cookies' values finds the same visitor. Only the consent's lifetime is
    checked again on every request (``consent``).
    """

    __slots__ = (
        "_browser",
        "_decided",
        "_decided_until",
        "_language",
        "_site",
        "_templates",
        "_undecided",
        "accept_language",
        "client_hints",
        "gpc",
        "notice_cookie",
        "user_agent",
    )

    def __init__(
        self,
        site: Site,
        consent_cookie: bytes,
        notice_cookie: bytes,
        user_agent: bytes,
        accept_language: bytes,
        gpc: bytes | None,
        client_hints: bytes | None,
    ) -> None:
        self._site = site
        self._language: str | None = None
        self._templates: dict[tuple[bool, str], Snippet | None] = {}
        self.notice_cookie = notice_cookie
        self.user_agent = user_agent
        self.accept_language = accept_language
        self.gpc = site.honour_gpc and gpc is not None and gpc.strip() == b"1"
        self.client_hints = client_hints
        codec = site.codec
        if codec is None:  # the site manages no consent
            self._decided_until, self._decided = -math.inf, site.unmanaged
            self._undecided = site.unmanaged
        else:
            verified = codec.verify(consent_cookie) if consent_cookie else None
            self._decided_until, self._decided, self._undecided = codec.lifetime(verified, self.gpc)
        self._browser: BrowserInfo | None = None

    @property
    def browser(self) -> BrowserInfo:
        """The browser and its verdict, classified when first needed: by a notice that may be
        due, or by the application reading ``request.state.browser``."""
        if self._browser is None:
            self._browser = self._site.classifier.classify(self.user_agent, self.client_hints)
        return self._browser

    @property
    def is_bot(self) -> bool:
        """Whether the visitor is a crawler, which gets nothing injected. Without the notice,
        only the device parse that says so runs, not the browser's classification."""
        if self._browser is not None or self._site.settings.notice_enabled:
            return self.browser.is_bot
        return self._site.classifier.is_bot(self.user_agent)

    @property
    def consent(self) -> ConsentState:
        """The consent now: a cookie's decision until its lifetime runs out, then undecided."""
        return self._decided if time.time() <= self._decided_until else self._undecided

    @property
    def language(self) -> str:
        if self._language is None:
            self._language = self._site.catalog.negotiate(self.accept_language)
        return self._language

    @property
    def notice_dismissed(self) -> bool:
        return self.notice_cookie == b"1"

    def template(self, consent: ConsentState, charset: str) -> Snippet | None:
        """What this visitor's pages get injected, before the page's own path goes in; None
        for bots and when nothing is due. Kept per decision state: it changes only with it."""
        key = (consent.decided, charset)
        try:
            return self._templates[key]
        except KeyError:
            template = self._templates[key] = self._render(consent, charset)
            return template

    def _render(self, consent: ConsentState, charset: str) -> Snippet | None:
        consent_enabled = self._site.settings.consent_enabled
        notice = self.notice()
        if (notice is None and not consent_enabled) or self.is_bot:
            return None
        key = SnippetKey(
            language=self.language,
            notice=notice,
            advice=self.browser.advice if notice else None,
            show_banner=consent_enabled and (not consent.decided or bool(consent.new)),
            gpc=consent.gpc and not consent.decided,
            decided=consent.decided,
            granted=consent.granted,
            encoding=charset,
            new=consent.new,
        )
        return self._site.renderer.snippet(key)

    def notice(self) -> str | None:
        """The verdict the notice should speak of, or None when no notice is due."""
        settings = self._site.settings
        if not settings.notice_enabled or self.notice_dismissed:
            return None
        verdict = self.browser.verdict
        return verdict if verdict in settings.notice_verdicts else None


def request_cookies(scope: Scope) -> dict[str, str]:
    """All the request's cookies, parsed by Starlette (a split Cookie header joined first)."""
    header = cookie_header(scope.get("headers") or ())
    return cookie_parser(header.decode("latin-1")) if header else {}


def cookie_header(headers: Any) -> bytes:
    """The Cookie header; HTTP/2 may send it in parts, which are joined again."""
    return b"; ".join([value for name, value in headers if name == b"cookie" and value])


def secure_cookies(scope: Scope, settings: ConsentSettings) -> bool:
    """``Secure`` unless the site is plain HTTP on localhost (or settings say otherwise)."""
    if settings.cookie_secure != "auto":
        return settings.cookie_secure == "always"
    if scope.get("scheme") in ("https", "wss"):
        return True
    host = dict(scope.get("headers") or ()).get(b"host", b"")
    hostname = host.decode("latin-1").rsplit(":", 1)[0] if host else ""
    if host.startswith(b"["):
        hostname = host.decode("latin-1").split("]")[0] + "]"
    return hostname not in _LOCALHOSTS


@dataclass(eq=False)
class Site:
    """Everything built once from the settings."""

    settings: ConsentSettings

    def __post_init__(self) -> None:
        self.honour_gpc = self.settings.honour_gpc
        self.consent_cookie = _cookie_reader(self.settings.cookie_name)
        self.notice_cookie = _cookie_reader(self.settings.notice_cookie_name)
        self.classifier = BrowserClassifier(self.settings)
        #: None when the site manages no consent (``consent_enabled = false``): then every
        #: category and service is allowed, no cookie is filtered, and no signing key is needed.
        self.codec = ConsentCodec(self.settings) if self.settings.consent_enabled else None
        self.unmanaged = ConsentState(
            decided=False, granted=frozenset(self.settings.cookie_owners()), revision=0
        )
        self.policy = CookiePolicy(self.settings)
        self.catalog = Catalog(self.settings)
        self.renderer = Renderer(self.settings, self.catalog)

        #: Called with each Cookie header the visitor cache has not met (set by the cookie
        #: inventory, :mod:`consent.choice.inventory`); None: nobody asks.
        self.on_new_cookie_header: Callable[[bytes], None] | None = None
        size = self.settings.consent_cache_size
        #: Visitors by (cookie, others): the Cookie header as it came, the other judged headers.
        self._by_headers = lru_cache(maxsize=size)(self._by_cookies)
        #: Visitors by (consent_cookie, notice_cookie, others): ``_visitor``'s parameters.
        self._by_cookie_values = lru_cache(maxsize=size)(self._visitor)

    def cache_clear(self) -> None:
        """Forget every visitor and browser verdict; the rendered markup and the verified
        consent cookies stay."""
        self._by_headers.cache_clear()
        self._by_cookie_values.cache_clear()
        self.classifier.cache_clear()

    def visitor(self, scope: Scope) -> Visitor:
        """The visitor a request's headers describe (cached whole when they are short)."""
        return self.visitor_by_headers(scope.get("headers") or ())

    def visitor_by_headers(self, headers: Any) -> Visitor:
        """The visitor that the ASGI ``headers`` of a request describe."""
        if not isinstance(headers, (list, tuple)):
            headers = list(headers)
        by_name = dict(headers)
        if len(by_name) == len(headers):
            get = by_name.get  # in _JUDGED's order; a call each costs less than map()
            cookie = get(b"cookie", b"")
            others: OtherHeaders = (
                get(b"user-agent", b""),
                get(b"accept-language", b""),
                get(b"sec-gpc", b""),
                get(b"sec-ch-ua-full-version-list", b""),
                get(b"sec-ch-ua", b""),
            )
        else:
            cookie, others = _repeated(headers)
        # One join is less work than sum(map(len, others)).
        if len(cookie) + len(b"".join(others)) <= _CACHED_HEADERS:
            return self._by_headers(cookie, others)
        return self._by_cookies(cookie, others)

    def _by_cookies(self, cookie: bytes, others: OtherHeaders) -> Visitor:
        """The visitor by our two cookies' values: the same one whatever other cookies say."""
        if cookie and self.on_new_cookie_header is not None:
            self.on_new_cookie_header(cookie)
        consent = self.consent_cookie(cookie) or b""
        notice = self.notice_cookie(cookie) or b""
        # Passed by position: the cache's key is then the plain tuple of the three, which
        # costs less to build than a named tuple; the parameters name its parts.
        if len(consent) + len(notice) + len(b"".join(others)) <= _CACHED_HEADERS:
            return self._by_cookie_values(consent, notice, others)
        return self._visitor(consent, notice, others)

    def _visitor(
        self, consent_cookie: bytes, notice_cookie: bytes, others: OtherHeaders
    ) -> Visitor:
        """A visitor judged from our two cookies' values and the other judged headers."""
        user_agent, accept_language, sec_gpc, full_version_list, brands = others
        hints = full_version_list or brands or None
        return Visitor(
            self, consent_cookie, notice_cookie, user_agent, accept_language, sec_gpc, hints
        )


def _repeated(headers: Any) -> tuple[bytes, OtherHeaders]:
    """The Cookie header and the other judged values when some header name comes more than
    once: HTTP/2 may split the Cookie header, whose parts are joined again; for the others the
    last one wins."""
    found = dict(_JUDGED)
    for name, value in headers:
        if name in found:
            found[name] = value
    del found[b"cookie"]
    return cookie_header(headers), tuple(found.values())  # type: ignore[return-value]


def _cookie_reader(name: str) -> Callable[[bytes], bytes | None]:
    """A function that finds one cookie's value in a raw ``Cookie`` header.

    The hot path needs one cookie, not all of them. The value is that of the first ``name=``
    that starts the header or follows a ``;`` (and spaces or tabs), up to the next ``;``, with
    spaces, tabs and quotes stripped; the first occurrence wins, as RFC 6265 orders the most
    specific cookie first. ``bytes.find`` skips to each candidate: a regular expression that
    starts with ``(?:^|;)`` has no literal prefix to search for, and costs several times more.
    """
    needle = name.encode("latin-1") + b"="

    def read(header: bytes) -> bytes | None:
        at = header.find(needle)
        while at >= 0:
            before = at
            while before and header[before - 1] in _COOKIE_SPACE:
                before -= 1
            if before == 0 or header[before - 1] == _SEMICOLON:
                start = at + len(needle)
                end = header.find(b";", start)
                return header[start : end if end >= 0 else len(header)].strip(b' \t"')
            at = header.find(needle, at + 1)
        return None

    return read


_COOKIE_SPACE = frozenset(b" \t")
_SEMICOLON = ord(";")
