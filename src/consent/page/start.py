"""What the middleware does with a start message, worked out once per status and headers.

An application sends the same few start messages again and again: a page's status, its content
type and length, maybe an ETag or a Vary. :class:`StartPlans` reads such a message's headers once
and keeps the answer, so that the next identical one costs a dict lookup instead of a pass over
its headers. Every plan says what it does with a start message: :data:`PASS_THROUGH` nothing,
:class:`OptedOut` drops ``X-Consent-Skip``, :class:`PagePlan` rewrites a page's headers for a
snippet, and :class:`SetsCookies`, for a response whose handling depends on the visitor beyond
the snippet's length, filters its cookies by the visitor's consent and plans what is left
(:meth:`SetsCookies.for_consent`). Cookie filtering is given to :class:`StartPlans` by the
middleware, so this module knows no consent rules.

Most start messages are not pages and set no cookies (JSON, images, scripts, styles), but their
lengths, ETags and dates change from one response to the next, so they would miss. For those the
answer comes from their header names, which repeat: where Content-Type is among them, and whether
one is Set-Cookie, is worked out once per sequence of names, and whether a Content-Type is HTML
once per value. No pass over the headers in Python is made for them.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any, Final

from consent.page.injector import html_charset

logger = logging.getLogger("consent")

Header = tuple[bytes, bytes]

#: The most plans, and final header lists per plan, that are kept (then they start afresh).
MAX_PLANS = 256
MAX_FINALS = 64
#: Start messages whose header names and values add up to more bytes than this are planned but
#: not kept, and a sequence of header names longer than this is not kept either.
MAX_KEPT_HEADERS = 8192
#: The charset of a page served as ``text/html`` without one: the body's first bytes tell
#: (``consent.page.encoding.sniff_encoding``), so its start message waits for them.
FROM_BODY: Final = ""

#: Content-Type and Vary values longer than this are worked out, not kept.
MAX_KEPT_VALUE = 512


class PassThrough:
    """The plan of a start message that is neither a page nor sets cookies: sent as it is."""

    __slots__ = ()


PASS_THROUGH: Final = PassThrough()


class NameFacts(enum.Enum):
    """What a response's header names say, when it is not where their Content-Type is."""

    NO_CONTENT_TYPE = "no content type"
    UNSURE = "may set cookies"


NO_CONTENT_TYPE: Final = NameFacts.NO_CONTENT_TYPE
UNSURE: Final = NameFacts.UNSURE


class OptedOut:
    """A page whose application said ``X-Consent-Skip``: nothing is injected, and the start
    message goes on without that header."""

    __slots__ = ("_headers",)

    def __init__(self, headers: tuple[Header, ...]) -> None:
        self._headers = headers

    def headers(self) -> list[Header]:
        return list(self._headers)


class PagePlan:
    """An HTML page's start headers, rewritten for a snippet of a given length.

    The application's headers without Content-Length and Vary are kept in order; then come the
    new Content-Length, the merged Vary and Accept-CH if asked. A strong ETag becomes weak when
    something is injected. ``charset`` is the codec to encode the snippet in,
    :data:`FROM_BODY` when the Content-Type names none, or None when the body told a charset
    that no snippet is written in (nothing is injected).
    """

    __slots__ = ("_finals", "_kept", "_length", "_strong_etag_at", "_tail", "charset")

    def __init__(
        self,
        charset: str | None,
        kept: tuple[Header, ...],
        length: int | None,
        strong_etag_at: int,
        tail: tuple[Header, ...],
    ) -> None:
        self.charset = charset
        self._kept = kept
        self._length = length
        self._strong_etag_at = strong_etag_at
        self._tail = tail
        self._finals: dict[int, tuple[Header, ...]] = {}

    def with_charset(self, charset: str | None) -> PagePlan:
        """This plan for a page whose body told its ``charset`` (None: one no snippet is written
        in)."""
        return PagePlan(charset, self._kept, self._length, self._strong_etag_at, self._tail)

    def headers(self, snippet_length: int) -> list[Header]:
        """The start headers of this page with a snippet of ``snippet_length`` bytes."""
        final = self._finals.get(snippet_length)
        if final is None:
            if len(self._finals) >= MAX_FINALS:
                self._finals.clear()
            final = self._finals[snippet_length] = self._final(snippet_length)
        return list(final)

    def _final(self, snippet_length: int) -> tuple[Header, ...]:
        headers = list(self._kept)
        if snippet_length and self._strong_etag_at >= 0:
            name, value = headers[self._strong_etag_at]
            headers[self._strong_etag_at] = (name, b"W/" + value)
        if self._length is not None:
            headers.append((b"content-length", b"%d" % (self._length + snippet_length)))
        headers.extend(self._tail)
        return tuple(headers)


PageOrNot = PagePlan | OptedOut | None
CookieFilter = Callable[[Sequence[Header], frozenset[str]], "list[Header] | None"]


class SetsCookies:
    """The plan of a start message with ``Set-Cookie`` headers: which of them a visitor gets
    depends on what the visitor granted, and so does the rest of the plan (the page may set only
    refused cookies, and its length does not change with them)."""

    __slots__ = ("_filter", "_headers", "_pages", "_status")

    def __init__(
        self, status: int, headers: Sequence[Header], pages: StartPlans, cookie_filter: CookieFilter
    ) -> None:
        self._status = status
        self._headers = headers
        self._pages = pages
        self._filter = cookie_filter

    def for_consent(self, granted: frozenset[str]) -> tuple[Sequence[Header], PageOrNot]:
        """The headers without the cookies of categories not in ``granted``, and their plan."""
        kept = self._filter(self._headers, granted)
        headers = self._headers if kept is None else kept
        return headers, self._pages.page(self._status, headers)


Plan = PagePlan | OptedOut | SetsCookies | PassThrough


class StartPlans:
    """Plans by start message, kept per status and headers (bounded).

    ``merge_vary`` merges the application's Vary with ours, ``extra`` are headers every page
    gets (Accept-CH), and ``cookie_filter`` drops the Set-Cookie headers a visitor's consent
    refuses (None when it keeps them all).
    """

    def __init__(
        self,
        merge_vary: Callable[[bytes | None], bytes],
        extra: Sequence[Header],
        cookie_filter: CookieFilter,
    ) -> None:
        # Pages that set cookies are planned on every response: their parts are cached instead.
        self._merged_vary = lru_cache(maxsize=64)(merge_vary)
        self._merge_uncached = merge_vary
        self._extra = tuple(extra)
        self._cookie_filter = cookie_filter
        self._plans: dict[tuple[object, ...], Plan] = {}
        self._content_type_at: dict[tuple[object, ...], int | NameFacts] = {}
        #: ``html_charset`` by Content-Type value (a dict read in place: a hit calls nothing).
        self._charsets: dict[bytes, str | None] = {}

    def plan(self, status: int, headers: Sequence[Header]) -> Plan:
        """The plan for a start message with ``status`` and ``headers``."""
        try:
            key = (status, *headers)
            plan = self._plans.get(key)
        except TypeError:  # header pairs that are lists: not hashable, not kept
            return self._make(status, headers)
        if plan is not None:
            return plan
        try:
            names, values = zip(*headers)  # noqa: B905 (a pair's third item would be ignored)
        except (TypeError, ValueError):  # no headers, or not pairs
            return self._make(status, headers)
        if self._neither_page_nor_cookies(names, values):
            plan = PASS_THROUGH
        else:
            plan = self._make(status, headers)
        try:  # one join is less work than summing the lengths of names and of values
            size = len(b"".join(names + values))
        except TypeError:  # a name or value that is not bytes: planned, not kept
            return plan
        if size <= MAX_KEPT_HEADERS:
            if len(self._plans) >= MAX_PLANS:
                self._plans.clear()
            self._plans[key] = plan
        return plan

    def _neither_page_nor_cookies(self, names: tuple[Any, ...], values: tuple[Any, ...]) -> bool:
        """Whether a start message certainly sets no cookie and is not HTML, told from what is
        known of its header names and Content-Type. False when in doubt."""
        content_type_at = self._content_type_at.get(names)
        if content_type_at is None:
            content_type_at = _content_type_at(names)
            if sum(map(len, names)) <= MAX_KEPT_HEADERS:
                if len(self._content_type_at) >= MAX_PLANS:
                    self._content_type_at.clear()
                self._content_type_at[names] = content_type_at
        if content_type_at is NO_CONTENT_TYPE:
            return True
        if content_type_at is UNSURE:
            return False
        content_type = values[content_type_at]
        try:
            return self._charsets[content_type] is None
        except KeyError:
            return self._charset(content_type) is None

    def _charset(self, content_type: bytes) -> str | None:
        """``html_charset(content_type)``, kept when the value is short (bounded)."""
        try:
            return self._charsets[content_type]
        except KeyError:
            pass
        charset = html_charset(content_type)
        if len(content_type) <= MAX_KEPT_VALUE:
            if len(self._charsets) >= MAX_PLANS:
                self._charsets.clear()
            self._charsets[content_type] = charset
        return charset

    def _merge_vary(self, app_vary: bytes | None) -> bytes:
        if app_vary is None or len(app_vary) <= MAX_KEPT_VALUE:
            return self._merged_vary(app_vary)
        return self._merge_uncached(app_vary)

    def _make(self, status: int, headers: Sequence[Header]) -> Plan:
        for name, _ in headers:
            if name.lower() == b"set-cookie":
                return SetsCookies(status, tuple(headers), self, self._cookie_filter)
        return self.page(status, headers) or PASS_THROUGH

    def page(self, status: int, headers: Sequence[Header]) -> PageOrNot:
        """How a response is rewritten, its cookies aside.

        None when it is not a page to inject into: not HTML in an ASCII-compatible charset,
        a status without a body, or an encoded body. :class:`OptedOut` when the application
        opted out with ``X-Consent-Skip``. A :class:`PagePlan` otherwise.
        """
        content_type = length = app_vary = None
        kept: list[Header] = []
        etag_at = -1
        opted_out = encoded = False
        for name, value in headers:
            lowered = name.lower()
            if lowered == b"content-length":
                length = value
                continue
            if lowered == b"vary":
                app_vary = value if app_vary is None else app_vary + b", " + value
                continue
            if lowered == b"content-type":
                content_type = value
            elif lowered == b"etag":
                etag_at = len(kept)
            elif lowered == b"x-consent-skip":
                opted_out = True
                continue
            elif lowered == b"content-encoding" and value.strip().lower() != b"identity":
                encoded = True
            kept.append((name, value))
        charset = self._charset(content_type) if content_type is not None else None
        if charset is None or status < 200 or status in (204, 304):
            return None
        if opted_out:
            return OptedOut(tuple(h for h in headers if h[0].lower() != b"x-consent-skip"))
        if encoded:
            _warn_encoded_html()
            return None
        if content_type is not None and _charset_from_body(content_type):
            charset = FROM_BODY
        strong_etag_at = etag_at if etag_at >= 0 and kept[etag_at][1][:2] != b"W/" else -1
        return PagePlan(
            charset,
            tuple(kept),
            int(length) if length is not None and length.strip().isdigit() else None,
            strong_etag_at,
            ((b"vary", self._merge_vary(app_vary)), *self._extra),
        )


def _charset_from_body(content_type: bytes) -> bool:
    """Whether a browser takes an HTML page's encoding from its body: ``text/html`` that names
    no charset (XHTML without one is UTF-8, as XML says, unless its XML declaration says
    otherwise, which is not read)."""
    lowered = content_type.lower()
    return b"charset" not in lowered and lowered.partition(b";")[0].strip() == b"text/html"


_warned_encoded: list[bool] = []


def _warn_encoded_html() -> None:
    """Once per process: an HTML page reached the middleware already compressed."""
    if not _warned_encoded:
        _warned_encoded.append(True)
        logger.warning(
            "consent: an HTML response arrived content-encoded, so nothing was injected into "
            "it; put the compression middleware (GZipMiddleware, GZipMiddleware in Django) "
            "outside ConsentMiddleware, so that it compresses the page after the injection"
        )


def _content_type_at(names: tuple[object, ...]) -> int | NameFacts:
    """Where the Content-Type header that counts (the last) is among a response's header names.

    :data:`NO_CONTENT_TYPE` when there is none; :data:`UNSURE` when one of them is Set-Cookie or
    is not bytes.
    """
    lowered = [name.lower() if isinstance(name, bytes) else None for name in names]
    if None in lowered or b"set-cookie" in lowered:
        return UNSURE
    for at in range(len(lowered) - 1, -1, -1):
        if lowered[at] == b"content-type":
            return at
    return NO_CONTENT_TYPE
